package wallet

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/banyan-mesh/banyan/crypto/event"
)

// Line is one line of an account statement.
type Line struct {
	Time   int64 // Unix ms, the entry's time
	ID     event.ID
	Author Account // who wrote the entry: the account itself or the other side
	Seq    uint64
	Type   Type
	// Counterparty is the other side: the entry's counterparty for the
	// account's own entries (the escrow account for an envelope), the
	// entry's author otherwise.
	Counterparty Account
	Amount       int64 // change to the account's balance
	Balance      int64 // running balance after this line
	Memo         string
	Ref          event.ID
	Status       Status
	Reason       string // why the entry is void
}

// Statement returns the account's statement: every evaluated entry of its
// own chain, and every effective entry of others that moved money to or
// from it, in ledger order, with the running balance. The last line's
// balance is Balance(a).
func (l *Ledger) Statement(a Account) []Line {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ensure()
	var out []Line
	var bal int64
	var buf [1]transfer
	for _, n := range l.d.order {
		var delta int64
		touched := false
		if n.status == StatusOK {
			for _, t := range l.effectsOf(n, &buf) {
				if t.from == a {
					delta -= int64(t.amount)
					touched = true
				}
				if t.to == a {
					delta += int64(t.amount)
					touched = true
				}
			}
		}
		if n.author() != a && !touched {
			continue
		}
		bal += delta
		ln := Line{
			Time: n.time, ID: n.id, Author: n.author(), Seq: n.seq, Type: n.typ,
			Amount: delta, Balance: bal, Memo: n.en.Memo, Ref: n.en.Ref, Status: n.status,
		}
		switch {
		case n.author() != a:
			ln.Counterparty = n.author()
		case n.typ == TypeEnvelope:
			ln.Counterparty = Escrow(n.id)
		case n.typ == TypeSettle:
			ln.Counterparty = Escrow(n.en.Ref)
		default:
			ln.Counterparty = n.counterparty()
		}
		if reason := l.d.reasons[n]; reason != nil {
			ln.Reason = reason.Error()
		}
		out = append(out, ln)
	}
	return out
}

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"time", "entry", "author", "seq", "type", "counterparty", "amount", "balance", "unit", "status", "reason", "memo", "reference"}

// WriteCSV writes a statement as CSV with a header row. Amounts and
// balances are integers in minor units of unit; times are RFC 3339 UTC with
// milliseconds. Text that a spreadsheet would run as a formula is prefixed
// with an apostrophe.
func WriteCSV(w io.Writer, unit string, lines []Line) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	for _, ln := range lines {
		ref := ""
		if ln.Ref != (event.ID{}) {
			ref = ln.Ref.String()
		}
		cp := ""
		if !ln.Counterparty.IsZero() {
			cp = ln.Counterparty.String()
		}
		rec := []string{
			time.UnixMilli(ln.Time).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			ln.ID.String(),
			ln.Author.String(),
			strconv.FormatUint(ln.Seq, 10),
			ln.Type.String(),
			cp,
			strconv.FormatInt(ln.Amount, 10),
			strconv.FormatInt(ln.Balance, 10),
			unit,
			ln.Status.String(),
			safeCell(ln.Reason),
			safeCell(ln.Memo),
			ref,
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// safeCell defuses spreadsheet formulas in untrusted text.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
