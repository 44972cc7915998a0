package wallet_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strconv"
	"testing"

	"github.com/banyan-mesh/banyan/wallet"
)

func TestStatementAndCSV(t *testing.T) {
	v := newVillage(t, 3, wallet.Config{})
	v.do(v.g, wallet.LimitGrant(v.a(0), 100, ""))
	v.do(v.g, wallet.LimitGrant(v.a(1), 100, ""))
	p1 := v.do(v.p(0), wallet.Payment(v.a(1), 30, "=HYPERLINK(\"http://evil\")"))
	v.do(v.p(1), wallet.Receipt(p1.ID))
	v.do(v.p(1), wallet.Payment(v.a(2), 50, "rice, 2 kg"))
	over := raw(t, v.p(1), v.head(v.p(1)), wallet.Payment(v.a(2), 500, "too much"), v.tick())
	v.add(over)
	v.do(v.p(1), wallet.Refund(p1.ID, 10, "change"))
	env := v.do(v.p(1), wallet.Envelope(5, 1, wallet.Seed{1}, v.now+100_000, ""))
	_ = env

	lines := v.l.Statement(v.a(1))
	var types []wallet.Type
	for _, ln := range lines {
		types = append(types, ln.Type)
	}
	want := []wallet.Type{wallet.TypePay, wallet.TypeReceipt, wallet.TypePay, wallet.TypePay, wallet.TypeRefund, wallet.TypeEnvelope}
	if !slices.Equal(types, want) {
		t.Fatalf("types %v", types)
	}
	amounts := []int64{30, 0, -50, 0, -10, -5}
	var bal int64
	for i, ln := range lines {
		bal += amounts[i]
		if ln.Amount != amounts[i] || ln.Balance != bal {
			t.Fatalf("line %d: %+v", i, ln)
		}
	}
	if lines[3].Status != wallet.StatusVoid || lines[3].Reason == "" {
		t.Fatalf("void line %+v", lines[3])
	}
	if lines[5].Counterparty != wallet.Escrow(env.ID) {
		t.Fatal("envelope counterparty")
	}
	if last := lines[len(lines)-1].Balance; last != v.l.Balance(v.a(1)) {
		t.Fatalf("last balance %d, balance %d", last, v.l.Balance(v.a(1)))
	}

	var buf bytes.Buffer
	if err := wallet.WriteCSV(&buf, testUnit, lines); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], wallet.CSVHeader) || len(recs) != len(lines)+1 {
		t.Fatalf("header %v, %d records", recs[0], len(recs))
	}
	col := func(name string) int { return slices.Index(wallet.CSVHeader, name) }
	first := recs[1]
	if first[col("memo")] != "'=HYPERLINK(\"http://evil\")" {
		t.Fatalf("formula not defused: %q", first[col("memo")])
	}
	if first[col("time")] != "2025-06-15T15:06:43.000Z" || first[col("type")] != "pay" || first[col("unit")] != testUnit {
		t.Fatalf("first record %q", first)
	}
	for i, rec := range recs[1:] {
		if rec[col("amount")] != strconv.FormatInt(lines[i].Amount, 10) || rec[col("balance")] != strconv.FormatInt(lines[i].Balance, 10) {
			t.Fatalf("record %d: %q", i, rec)
		}
	}
	if recs[3][col("memo")] != "rice, 2 kg" || recs[3][col("amount")] != "-50" {
		t.Fatalf("record 3: %q", recs[3])
	}
}
