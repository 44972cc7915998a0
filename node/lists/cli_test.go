package lists

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/people"
)

// An edit on the event stream is one line for 'banyan watch', with what
// others wrote cleaned of what a terminal would obey.
func TestWatchLine(t *testing.T) {
	raw, err := json.Marshal(ListEvent{
		GroupName: "family", List: "market\x1b[2J", Item: "rice\x1b]0;owned\x07", What: "ticked",
		By: people.Person{Label: "bob"}, Time: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	line, ok := watchLine(api.Event{Type: StreamType, Raw: raw})
	if !ok || !strings.Contains(line, "[family] bob ticked") || strings.ContainsAny(line, "\x1b\x07\n") {
		t.Fatalf("watch line %q, %v", line, ok)
	}
	if _, ok := watchLine(api.Event{Type: "message", Raw: raw}); ok {
		t.Fatal("another type rendered as a list edit")
	}
}
