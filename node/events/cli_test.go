package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/people"
)

// Posts, answers and reminders on the event stream are lines for 'banyan
// watch', cleaned of what a terminal would obey.
func TestWatchLine(t *testing.T) {
	post, _ := json.Marshal(EventInfo{GroupName: "family", Title: "feast\x1b[2J", Place: "school", Start: time.Now(), Going: []people.Person{{}}})
	rsvp, _ := json.Marshal(RSVPEvent{GroupName: "family", Title: "feast", Answer: "going", By: people.Person{Label: "bob\x07"}, Time: time.Now()})
	for typ, want := range map[string]string{StreamPost: "new event", StreamReminder: "reminder: starts soon", StreamRSVP: "is going: feast"} {
		raw := post
		if typ == StreamRSVP {
			raw = rsvp
		}
		line, ok := watchLine(api.Event{Type: typ, Raw: raw})
		if !ok || !strings.Contains(line, want) || strings.ContainsAny(line, "\x1b\x07\n") {
			t.Errorf("%s: %q, %v", typ, line, ok)
		}
	}
	// An event to contacts is shown as such, with no group's name.
	toContacts, _ := json.Marshal(EventInfo{Contacts: true, Title: "mango picking", Start: time.Now()})
	if line, ok := watchLine(api.Event{Type: StreamPost, Raw: toContacts}); !ok || !strings.HasPrefix(line, "[contacts] new event") {
		t.Errorf("an event to contacts: %q, %v", line, ok)
	}
	if got := where(EventInfo{Contacts: true, By: people.Person{Label: "~amina\x1b"}}); strings.ContainsAny(got, "\x1b") || !strings.HasSuffix(got, "'s contacts") {
		t.Errorf("who sees a contact's event: %q", got)
	}
	if _, ok := watchLine(api.Event{Type: "list", Raw: post}); ok {
		t.Error("another type rendered as an event")
	}
}
