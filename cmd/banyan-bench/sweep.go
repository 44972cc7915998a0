package main

import (
	"context"
	"fmt"
	"runtime"
)

// Capacity criteria of --sweep.
const (
	sweepP99MS = 100
	// sweepLagMS bounds how late sends may start: a side whose senders
	// fall behind is not offered the rate asked of it.
	sweepLagMS = 100
)

// SweepRun is one run of a capacity search.
type SweepRun struct {
	Rate          float64 `json:"rate"`
	Held          bool    `json:"held"`
	P50MS         float64 `json:"p50_ms"`
	P99MS         float64 `json:"p99_ms"`
	DeliveryRatio float64 `json:"delivery_ratio"`
	SendLagP99MS  float64 `json:"send_lag_p99_ms"`
	CPUMSPerMsg   float64 `json:"cpu_ms_per_msg"`
	OtherCPUS     float64 `json:"other_cpu_s"`
}

// SweepSide is one side's capacity search.
type SweepSide struct {
	// Capacity is the highest rate that held (0 if none did).
	Capacity float64    `json:"capacity"`
	Runs     []SweepRun `json:"runs"`
}

// SweepReport is the output of --sweep.
type SweepReport struct {
	Baseline SweepSide `json:"baseline"`
	Banyan   SweepSide `json:"banyan"`
	// CapacityRatio is Banyan's capacity over the baseline's.
	CapacityRatio       float64  `json:"capacity_ratio"`
	BaselineDifferences []string `json:"baseline_differences"`
}

// search is one side's capacity search: doubling from the first rate
// until a run fails, then bisecting between the highest rate that held and
// the lowest that did not.
type search struct {
	held, failed float64 // 0: none yet
	steps        int     // bisections left
	max          float64
}

// next returns the rate to try next, or 0 when the search is over.
func (s *search) next(start float64) float64 {
	switch {
	case s.held == 0 && s.failed == 0:
		return start
	case s.failed == 0:
		if s.held >= s.max {
			return 0
		}
		return min(s.held*2, s.max)
	case s.held == 0:
		// Even the first rate failed: halve it, within the same budget.
		if s.steps == 0 {
			return 0
		}
		return s.failed / 2
	case s.steps == 0:
		return 0
	}
	return (s.held + s.failed) / 2
}

func (s *search) record(rate float64, held bool) {
	if s.failed != 0 {
		s.steps--
	}
	if held {
		s.held = max(s.held, rate)
	} else if s.failed == 0 || rate < s.failed {
		s.failed = rate
	}
}

// runSweep runs both capacity searches, alternately.
func runSweep(ctx context.Context, o *chatOptions) (*SweepReport, error) {
	out := &SweepReport{BaselineDifferences: baselineDifferences}
	sides := []struct {
		mode string
		s    *search
		out  *SweepSide
	}{
		{"baseline", &search{steps: o.sweepSteps, max: o.sweepMax}, &out.Baseline},
		{"banyan", &search{steps: o.sweepSteps, max: o.sweepMax}, &out.Banyan},
	}
	for {
		ran := false
		for _, side := range sides {
			rate := side.s.next(o.rate)
			if rate == 0 {
				continue
			}
			ran = true
			ro := *o
			ro.rate = rate
			o.progress("sweep: %s at %.0f/s", side.mode, rate)
			r, err := runChat(ctx, &ro, side.mode)
			if err != nil {
				return nil, fmt.Errorf("%s at %.0f/s: %w", side.mode, rate, err)
			}
			runtime.GC()
			run := SweepRun{
				Rate: rate, P50MS: r.LatencyMS.P50, P99MS: r.LatencyMS.P99, DeliveryRatio: r.DeliveryRatio,
				SendLagP99MS: r.SendLagMS.P99, CPUMSPerMsg: r.CPUMSPerMsg, OtherCPUS: r.OtherCPUS,
			}
			run.Held = r.SendErrors == 0 && r.Sent > 0 && r.Delivered == r.ExpectedDeliveries &&
				run.P99MS < sweepP99MS && run.SendLagP99MS < sweepLagMS
			side.s.record(rate, run.Held)
			side.out.Runs = append(side.out.Runs, run)
			side.out.Capacity = side.s.held
		}
		if !ran {
			break
		}
	}
	out.CapacityRatio = round3(ratio(out.Banyan.Capacity, out.Baseline.Capacity))
	return out, nil
}
