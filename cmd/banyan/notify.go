package main

import (
	"fmt"
	"net"
	"os"
)

// sdNotify tells systemd how the service is doing (a unit of Type=notify,
// ops/systemd): "READY=1" once the node answers, "STOPPING=1" when it
// begins to stop. Outside systemd ($NOTIFY_SOCKET unset) it does nothing.
func sdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		// An abstract socket.
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notify systemd: %w", err)
	}
	return nil
}
