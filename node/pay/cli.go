package pay

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/banyan-mesh/banyan/crypto"
	"github.com/banyan-mesh/banyan/node/api"
	"github.com/banyan-mesh/banyan/node/cli"
	"github.com/banyan-mesh/banyan/wallet"
)

// CLI is the wallet's part of the command line.
var CLI = cli.Feature{
	Group: "wallet",
	Commands: func(a *cli.App) []*cobra.Command {
		return []*cobra.Command{walletCmd(a)}
	},
	Watch: watchLine,
}

// dial connects to the running node.
func dial(ctx context.Context, a *cli.App) (Client, error) {
	c, err := a.Client(ctx)
	if err != nil {
		return Client{}, err
	}
	return NewClient(c), nil
}

// watchLine renders a wallet entry of the event stream.
func watchLine(ev api.Event) (string, bool) {
	var w Line
	if ev.Type != StreamType || ev.Decode(&w) != nil {
		return "", false
	}
	line := fmt.Sprintf("%s [wallet] %s (%s)", cli.FormatTime(w.Time), cli.CleanLine(w.Text), w.Status)
	if w.Memo != "" {
		line += ": " + cli.CleanLine(w.Memo)
	}
	return line + "  " + shortEntry(w.Entry), true
}

func walletCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:   "wallet",
		Short: "Pay and get paid in the village's mutual credit",
		Long: `The wallet keeps this node's account in the village's unit of mutual credit.
Everyone starts at 0; a payment moves credit from the payer to the payee, and
people may go below 0 down to the credit limit the unit's guarantors grant
them. Payments work offline and spread from node to node.

Amounts are positive integers in minor units of the unit (no decimals).
A CONTACT is a contact's nickname or peer ID, or a hex account.`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.SuggestionsMinimumDistance = 2
	// A negative amount looks like a flag to the parser: say what amounts
	// are instead of "unknown shorthand flag".
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		msg := err.Error()
		if i := strings.LastIndex(msg, " in -"); i >= 0 && strings.HasPrefix(msg, "unknown shorthand flag") {
			if arg := msg[i+len(" in "):]; isNumber(arg) {
				return cli.Usagef(cmd, "%q: amounts are positive integers in minor units (for example 250), not negative", arg)
			}
		}
		return &cli.UsageError{Cmd: cmd, Err: err}
	})
	c.AddCommand(walletBalanceCmd(a), walletHistoryCmd(a), walletPayCmd(a), walletRequestCmd(a),
		walletPayRequestCmd(a), walletRefundCmd(a), walletLimitCmd(a), walletEnvelopeCmd(a), walletFraudsCmd(a),
		walletVerifyProofCmd(a), walletAcceptCapCmd(a), walletUnitCmd(a))
	return c
}

// parseAmount parses a positive amount in minor units.
func parseAmount(cmd *cobra.Command, name, s string) (uint64, error) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 || v > 1<<53-1 {
		return 0, cli.Usagef(cmd, "%s %q: amounts are positive integers in minor units (for example 250), up to %d", name, s, uint64(1<<53-1))
	}
	return v, nil
}

// isNumber reports whether s is a decimal number.
func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// printEntry prints an entry this node wrote.
func printEntry(a *cli.App, e *Entry, asJSON bool) error {
	if asJSON {
		return cli.WriteJSON(a.Stdout, e)
	}
	status := e.Status
	if e.Reason != "" {
		status += " (" + e.Reason + ")"
	}
	fmt.Fprintf(a.Stdout, "%s: %s; your balance is %d (entry %s)\n", cli.CleanLine(e.Text), status, e.Balance, shortEntry(e.ID))
	if e.Envelope != nil {
		fmt.Fprintln(a.Stdout, cli.CleanLine(e.Envelope.Note))
	}
	return nil
}

// shortEntry shortens an entry ID for display; commands take any unique
// prefix of at least 6 characters.
func shortEntry(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func walletBalanceCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "balance",
		Short: "Show your balance, what you can spend and your credit limit",
		Args:  cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			w, err := cl.Wallet(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, w)
			}
			tw := cli.NewTable(a.Stdout)
			fmt.Fprintf(tw, "unit\t%s\n", w.Unit)
			fmt.Fprintf(tw, "account\t%s\n", w.Account)
			fmt.Fprintf(tw, "balance\t%d\n", w.Balance)
			fmt.Fprintf(tw, "spendable\t%d\n", w.Spendable)
			fmt.Fprintf(tw, "limit\t%d\n", w.Limit)
			if w.Unreceipted > 0 {
				fmt.Fprintf(tw, "incoming\t%d not yet accepted\n", w.Unreceipted)
			}
			if w.Guarantor {
				fmt.Fprintf(tw, "guarantor\tyes\n")
			}
			if w.AcceptCap > 0 {
				fmt.Fprintf(tw, "accept\tat most %d from anyone unconfirmed\n", w.AcceptCap)
			}
			for p, c := range w.AcceptCaps {
				fmt.Fprintf(tw, "accept\tat most %d from %s unconfirmed\n", c, cli.Person(w.CapPeople[p]))
			}
			if w.Frozen {
				fmt.Fprintf(tw, "FROZEN\tthis account signed two conflicting entries (a copied device?)\n")
			}
			if w.CatchingUp {
				fmt.Fprintf(tw, "catching up\tyour own history is not synced from the network yet: nothing is written until it is\n")
			}
			for _, d := range w.Disagree {
				fmt.Fprintf(tw, "DISAGREES\t%s counts credit by other guarantors: your balances differ (see 'banyan wallet unit')\n", cli.Person(d.Peer))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the account as JSON")
	return c
}

func walletHistoryCmd(a *cli.App) *cobra.Command {
	var asJSON, asCSV bool
	c := &cobra.Command{
		Use:   "history",
		Short: "Show your statement",
		Args:  cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON && asCSV {
				return cli.Usagef(cmd, "choose --json or --csv, not both")
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			if asCSV {
				b, err := cl.CSV(cmd.Context())
				if err != nil {
					return err
				}
				_, err = a.Stdout.Write(b)
				return err
			}
			lines, err := cl.History(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if lines == nil {
					lines = []Line{}
				}
				return cli.WriteJSON(a.Stdout, lines)
			}
			if len(lines) == 0 {
				fmt.Fprintln(a.Stdout, "no entries")
				return nil
			}
			tw := cli.NewTable(a.Stdout)
			fmt.Fprintln(tw, "TIME\tWHAT\tAMOUNT\tBALANCE\tSTATUS\tMEMO\tENTRY")
			for _, l := range lines {
				status := l.Status
				if l.Reason != "" {
					status += " (" + l.Reason + ")"
				}
				fmt.Fprintf(tw, "%s\t%s\t%+d\t%d\t%s\t%s\t%s\n", cli.FormatTime(l.Time), cli.CleanLine(l.Text),
					l.Amount, l.Balance, status, cli.CleanLine(l.Memo), shortEntry(l.Entry))
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the statement as JSON")
	c.Flags().BoolVar(&asCSV, "csv", false, "print the statement as CSV (for a spreadsheet)")
	return c
}

func walletPayCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:     "pay CONTACT AMOUNT [MEMO...]",
		Short:   "Pay a contact (or account) AMOUNT minor units",
		Example: `  banyan wallet pay mei 250 eggs`,
		Args:    cli.MinArgs("CONTACT", "AMOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(cmd, "AMOUNT", args[1])
			if err != nil {
				return err
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			e, err := cl.Pay(cmd.Context(), PayIn{To: args[0], Amount: amount, Memo: strings.Join(args[2:], " ")})
			if err != nil {
				return err
			}
			return printEntry(a, e, asJSON)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the entry as JSON")
	return c
}

func walletRequestCmd(a *cli.App) *cobra.Command {
	var (
		asJSON bool
		expiry time.Duration
	)
	c := &cobra.Command{
		Use:     "request AMOUNT [MEMO...]",
		Short:   "Ask to be paid: prints a link and a QR code to show the payer",
		Example: `  banyan wallet request 300 two loaves`,
		Args:    cli.MinArgs("AMOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(cmd, "AMOUNT", args[0])
			if err != nil {
				return err
			}
			if expiry < time.Second {
				return cli.Usagef(cmd, "--expiry must be at least 1s, got %s", expiry)
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			r, err := cl.Request(cmd.Context(), RequestIn{Amount: amount, Memo: strings.Join(args[1:], " "), ExpiryS: int64(expiry / time.Second)})
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, r)
			}
			fmt.Fprint(a.Stdout, r.QR)
			fmt.Fprintln(a.Stdout, r.Link)
			fmt.Fprintf(a.Stdout, "(%d %s, valid until %s; the payer runs: banyan wallet pay-request LINK)\n", r.Amount, r.Unit, cli.FormatTime(r.Expires))
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the request as JSON")
	c.Flags().DurationVar(&expiry, "expiry", 7*24*time.Hour, "how long the request can be paid")
	return c
}

func walletPayRequestCmd(a *cli.App) *cobra.Command {
	var (
		asJSON bool
		wait   time.Duration
	)
	c := &cobra.Command{
		Use:   "pay-request LINK",
		Short: "Pay a payment request (a banyan:pay1.… link)",
		Long: `Pay a payment request (a banyan:pay1.… link), then wait up to --wait for
the payee to accept the payment. If someone else paid the same request and
the payee accepted theirs, yours does not count (no money moves) and the
command fails. If the payee does not answer in time (it may be offline),
the payment stands and the payee decides when it gets it.`,
		Args: cli.ExactArgs("LINK"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if wait < 0 || wait > MaxRequestWait {
				return cli.Usagef(cmd, "--wait must be 0 to %s", MaxRequestWait)
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			e, err := cl.PayRequestWait(cmd.Context(), PayRequestIn{Link: args[0], WaitS: int64((wait + time.Second - 1) / time.Second)})
			if err != nil {
				return err
			}
			if err := printEntry(a, e, asJSON); err != nil || asJSON {
				return err
			}
			switch {
			case e.Accepted:
				fmt.Fprintln(a.Stdout, "the payee accepted it")
			case e.Pending:
				fmt.Fprintln(a.Stdout, "the payee has not accepted it yet (offline?); it decides when it gets the payment")
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the entry as JSON")
	c.Flags().DurationVar(&wait, "wait", 15*time.Second, "how long to wait for the payee to accept the payment (0: do not wait)")
	return c
}

func walletRefundCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "refund ENTRY [AMOUNT]",
		Short: "Refund a payment you received (all that is left of it without AMOUNT); ENTRY may be its first 6 characters or more",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 2 {
				return cli.Usagef(cmd, "too many arguments: refund takes ENTRY and an optional AMOUNT")
			}
			return cli.MinArgs("ENTRY")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			in := RefundIn{Entry: args[0]}
			if len(args) == 2 {
				v, err := parseAmount(cmd, "AMOUNT", args[1])
				if err != nil {
					return err
				}
				in.Amount = v
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			e, err := cl.Refund(cmd.Context(), in)
			if err != nil {
				return err
			}
			return printEntry(a, e, asJSON)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the entry as JSON")
	return c
}

func walletLimitCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:   "limit",
		Short: "Grant credit limits (guarantors only)",
		Args:  cli.SubcommandsOnly,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	var asJSON bool
	grant := &cobra.Command{
		Use:   "grant ACCOUNT AMOUNT",
		Short: "Let ACCOUNT go down to -AMOUNT (0 revokes); counts only if you are a guarantor",
		Args:  cli.ExactArgs("ACCOUNT", "AMOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.ParseUint(args[1], 10, 64)
			if err != nil || v > 1<<53-1 {
				return cli.Usagef(cmd, "AMOUNT %q: limits are integers in minor units (0 revokes)", args[1])
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			e, err := cl.Limit(cmd.Context(), LimitIn{Account: args[0], Limit: v})
			if err != nil {
				return err
			}
			return printEntry(a, e, asJSON)
		},
	}
	grant.Flags().BoolVar(&asJSON, "json", false, "print the entry as JSON")
	c.AddCommand(grant)
	return c
}

func walletEnvelopeCmd(a *cli.App) *cobra.Command {
	c := &cobra.Command{
		Use:   "envelope",
		Short: "Send, claim and look at red envelopes",
		Long: `A red envelope puts an amount in a number of random shares for the members
of a group to claim. It can be claimed for 24 hours. The shares are dealt
once all are claimed, or when it expires; what nobody claimed by then goes
back to the sender.`,
		Args: cli.SubcommandsOnly,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	var sendJSON, claimJSON bool
	send := &cobra.Command{
		Use:     "send GROUP TOTAL COUNT",
		Short:   "Put TOTAL in a red envelope of COUNT random shares and announce it in GROUP",
		Example: `  banyan wallet envelope send family 1000 5`,
		Args:    cli.ExactArgs("GROUP", "TOTAL", "COUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			total, err := parseAmount(cmd, "TOTAL", args[1])
			if err != nil {
				return err
			}
			count, err := strconv.Atoi(args[2])
			if err != nil || count < 1 || count > 100 || uint64(count) > total {
				return cli.Usagef(cmd, "COUNT %q: the number of shares, 1 to 100 and at most TOTAL", args[2])
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			e, err := cl.Envelope(cmd.Context(), EnvelopeIn{Group: args[0], Total: total, Count: count})
			if err != nil {
				return err
			}
			return printEntry(a, e, sendJSON)
		},
	}
	send.Flags().BoolVar(&sendJSON, "json", false, "print the entry as JSON")
	claim := &cobra.Command{
		Use:   "claim ID",
		Short: "Claim a share of a red envelope (ID from its announcement, or its first 6 characters or more)",
		Args:  cli.ExactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			e, err := cl.Claim(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printEntry(a, e, claimJSON)
		},
	}
	claim.Flags().BoolVar(&claimJSON, "json", false, "print the entry as JSON")
	var showJSON bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a red envelope: how much is claimed, until when, and what happens to the rest",
		Args:  cli.ExactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			st, err := cl.EnvelopeStatus(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if showJSON {
				return cli.WriteJSON(a.Stdout, st)
			}
			fmt.Fprintf(a.Stdout, "red envelope %s from %s: %d in %d shares, claimable until %s\n%s\n",
				shortEntry(st.ID), cli.Person(st.Sender), st.Total, st.Count, cli.FormatTime(st.Expires), cli.CleanLine(st.Note))
			return nil
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print the envelope as JSON")
	c.AddCommand(send, claim, show)
	return c
}

func walletUnitCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	show := func(cmd *cobra.Command, u *UnitInfo) error {
		if asJSON {
			return cli.WriteJSON(a.Stdout, u)
		}
		tw := cli.NewTable(a.Stdout)
		printUnit(tw, "", u)
		if u.Next != nil {
			printUnit(tw, "from the next start: ", u.Next)
		}
		for _, d := range u.Disagree {
			names := make([]string, len(d.Guarantors))
			for i, g := range d.Guarantors {
				names[i] = cli.Person(g)
			}
			fmt.Fprintf(tw, "DISAGREES\t%s names guarantors %s: balances differ until you agree\n", cli.Person(d.Peer), orNone(names))
		}
		return tw.Flush()
	}
	c := &cobra.Command{
		Use:   "unit",
		Short: "Show the unit's definition (its name and guarantors) and the code that passes it on",
		Long: `Every node of a unit must count credit by the same guarantors. The unit's
definition is kept by the node from its first start (made from --wallet-unit
and --wallet-guarantor), and its code passes it on: 'banyan wallet unit adopt
CODE' on another node keeps it for that node's next start. Connected peers
that define the unit with other guarantors are listed.`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			u, err := cl.Unit(cmd.Context())
			if err != nil {
				return err
			}
			return show(cmd, u)
		},
	}
	c.PersistentFlags().BoolVar(&asJSON, "json", false, "print the definition as JSON")
	adopt := &cobra.Command{
		Use:   "adopt CODE",
		Short: "Keep a unit's definition from its code; the node uses it from its next start",
		Args:  cli.ExactArgs("CODE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			u, err := cl.AdoptUnit(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := show(cmd, u); err != nil {
				return err
			}
			if !asJSON && u.Next != nil {
				fmt.Fprintln(a.Stdout, "Restart Banyan (without --wallet-unit and --wallet-guarantor) to count credit by the adopted definition.")
			}
			return nil
		},
	}
	c.AddCommand(adopt)
	return c
}

func printUnit(tw io.Writer, prefix string, u *UnitInfo) {
	names := make([]string, len(u.Guarantors))
	for i, g := range u.Guarantors {
		names[i] = cli.Person(g)
	}
	fmt.Fprintf(tw, "%sunit\t%s\n", prefix, u.Unit)
	fmt.Fprintf(tw, "%sguarantors\t%s\n", prefix, orNone(names))
	fmt.Fprintf(tw, "%sdefined by\t%s, %s\n", prefix, cli.Person(u.DefinedBy), u.Defined.Local().Format("2006-01-02 15:04"))
	fmt.Fprintf(tw, "%scode\t%s\n", prefix, u.Code)
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func walletFraudsCmd(a *cli.App) *cobra.Command {
	var (
		asJSON bool
		proof  string
		out    string
	)
	c := &cobra.Command{
		Use:   "frauds [--proof ACCOUNT [--out FILE]]",
		Short: "List accounts caught double spending, or export the proof against one",
		Long: `List the accounts caught double spending. With --proof ACCOUNT, print the
fraud proofs against that account instead, one per line as text
(banyan:fraud1.…), or write them to FILE with --out: anyone can check them
alone with 'banyan wallet verify-proof', without a node.`,
		Example: `  banyan wallet frauds
  banyan wallet frauds --proof 12D3KooW... --out fork.proof`,
		Args: cli.ExactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out != "" && proof == "" {
				return cli.Usagef(cmd, "--out goes with --proof ACCOUNT")
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			if proof != "" {
				ps, err := cl.FraudProofs(cmd.Context(), proof)
				if err != nil {
					return err
				}
				if asJSON {
					return cli.WriteJSON(a.Stdout, ps)
				}
				var text strings.Builder
				for _, p := range ps.Proofs {
					fmt.Fprintln(&text, p.Text)
				}
				if out != "" {
					if err := os.WriteFile(out, []byte(text.String()), 0o644); err != nil {
						return err
					}
					fmt.Fprintf(a.Stdout, "wrote %d fraud proof(s) against %s to %s\n", len(ps.Proofs), ps.Account, out)
					return nil
				}
				_, err = io.WriteString(a.Stdout, text.String())
				return err
			}
			fs, err := cl.Frauds(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if fs == nil {
					fs = []Fraud{}
				}
				return cli.WriteJSON(a.Stdout, fs)
			}
			if len(fs) == 0 {
				fmt.Fprintln(a.Stdout, "no double spending seen")
				return nil
			}
			for _, f := range fs {
				fmt.Fprintf(a.Stdout, "%s spent the same money twice (two entries at #%d): balance %d, limit %d, %d not covered; account %s\n",
					cli.Person(f.Person), f.Seq, f.Balance, f.Limit, f.Shortfall, f.Account)
				for _, af := range f.Affected {
					fmt.Fprintf(a.Stdout, "  paid %s %d after that\n", cli.Person(af.Person), af.Amount)
				}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the reports (or proofs) as JSON")
	c.Flags().StringVar(&proof, "proof", "", "export the fraud proofs against `ACCOUNT` (hex, peer ID or contact)")
	c.Flags().StringVar(&out, "out", "", "with --proof, write the proofs to `FILE`")
	return c
}

// maxProofFile bounds a proof file read by verify-proof.
const maxProofFile = 16 * (wallet.MaxProofText + 2)

func walletVerifyProofCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify-proof TEXT-OR-FILE",
		Short: "Check a fraud proof alone, without a node",
		Long: `Check a fraud proof: a banyan:fraud1.… text, or a file holding one or
more of them (one per line) or a proof's raw bytes. It needs no node and no
network: the proof is two entries signed by the same key that cannot both
be on one chain. It says whose account forked, in which unit and at which
position, and fails if the proof does not hold.`,
		Args: cli.ExactArgs("TEXT-OR-FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			proofs, err := readProofs(args[0])
			if err != nil {
				return err
			}
			var infos []ProofReport
			for _, p := range proofs {
				info, err := p.Info()
				if err != nil {
					return err
				}
				infos = append(infos, reportOf(info))
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, infos)
			}
			for _, r := range infos {
				how := fmt.Sprintf("two entries at #%d (%s and %s)", r.Seq, shortEntry(r.A), shortEntry(r.B))
				if r.BrokenLink {
					how = fmt.Sprintf("entry #%d (%s) does not follow entry #%d (%s)", r.Seq+1, shortEntry(r.B), r.Seq, shortEntry(r.A))
				}
				fmt.Fprintf(a.Stdout, "valid fraud proof: account %s (peer %s) forked its chain in unit %q at #%d: %s\n",
					r.Account, r.Peer, r.Unit, r.Seq, how)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print what the proofs prove as JSON")
	return c
}

// ProofReport is what verify-proof says of a valid proof.
type ProofReport struct {
	Account    string `json:"account"`
	Peer       string `json:"peer,omitempty"`
	Unit       string `json:"unit"`
	Seq        uint64 `json:"seq"`
	BrokenLink bool   `json:"broken_link,omitempty"`
	A          string `json:"a"`
	B          string `json:"b"`
}

func reportOf(info wallet.ProofInfo) ProofReport {
	r := ProofReport{Account: info.Author.String(), Unit: info.Unit, Seq: info.Seq, BrokenLink: info.BrokenLink, A: info.A.String(), B: info.B.String()}
	if p, err := crypto.PeerIDFromPublicKey(info.Author[:]); err == nil {
		r.Peer = p.String()
	}
	return r
}

// readProofs reads the proofs of a verify-proof argument: proof text, or a
// file of proof texts (one per line) or of a proof's raw bytes.
func readProofs(arg string) ([]*wallet.FraudProof, error) {
	if _, ok := crypto.CutCode(arg, wallet.ProofType); ok {
		p, err := wallet.ParseFraudProof(arg)
		if err != nil {
			return nil, err
		}
		return []*wallet.FraudProof{p}, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a fraud proof (banyan:fraud1.…) nor a file: %w", arg, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(maxProofFile)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxProofFile {
		return nil, fmt.Errorf("%s: more than %d bytes", arg, maxProofFile)
	}
	if !utf8.Valid(b) || !strings.Contains(string(b), wallet.ProofType) {
		p, err := wallet.DecodeFraudProof(b)
		if err != nil {
			return nil, err
		}
		return []*wallet.FraudProof{p}, nil
	}
	var out []*wallet.FraudProof
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		p, err := wallet.ParseFraudProof(line)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no fraud proof in it", arg)
	}
	return out, nil
}

func walletAcceptCapCmd(a *cli.App) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "accept-cap [PAYER] AMOUNT",
		Short: "Bound what you accept from a payer nobody else has vouched for yet",
		Long: `Bound how much you accept, and receipt, from a payer whose recent spending
no other member has confirmed yet: a payer who may be paying several
people at once with the same credit. Without PAYER the bound applies to
everyone without one of their own (0: no bound); with PAYER, 0 refuses that
payer's unconfirmed payments. Payments over the bound wait until the
payer's spending is confirmed.`,
		Example: `  banyan wallet accept-cap 500          # at most 500 from anyone unconfirmed
  banyan wallet accept-cap taxi 2000     # more from someone you know`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return cli.Usagef(cmd, "give AMOUNT, or PAYER and AMOUNT")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			in := AcceptCap{}
			amount := args[len(args)-1]
			if len(args) == 2 {
				in.Payer = args[0]
			}
			if amount != "0" {
				n, err := parseAmount(cmd, "AMOUNT", amount)
				if err != nil {
					return err
				}
				in.Cap = n
			}
			cl, err := dial(cmd.Context(), a)
			if err != nil {
				return err
			}
			w, err := cl.AcceptCap(cmd.Context(), in)
			if err != nil {
				return err
			}
			if asJSON {
				return cli.WriteJSON(a.Stdout, w)
			}
			who := "anyone"
			if in.Payer != "" {
				who = in.Payer
			}
			fmt.Fprintf(a.Stdout, "accepting at most %d from %s while unconfirmed\n", in.Cap, who)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the wallet as JSON")
	return c
}
