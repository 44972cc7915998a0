// Command banyan runs a Banyan node and talks to a running one through its
// local API. Run without arguments it starts a node on the default data
// directory, creating an identity first if there is none.
package main

import "os"

func main() {
	os.Exit(execute(os.Args[1:]))
}
