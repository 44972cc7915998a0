package engine

import (
	"math"
	"testing"
	"time"
)

// A histogram of durations counts each time in the first bucket whose
// bound it does not exceed, and those beyond every bound only in the
// count and the sum.
func TestDurations(t *testing.T) {
	var d Durations
	for _, t := range []time.Duration{50 * time.Microsecond, 100 * time.Microsecond, 300 * time.Microsecond, 2 * time.Second} {
		d.observe(t)
	}
	count, sum, atMost := d.Histogram()
	if count != 4 || math.Abs(sum-2.00045) > 1e-9 {
		t.Errorf("count %d, sum %v; want 4, 2.00045", count, sum)
	}
	for bound, want := range map[float64]uint64{0.0001: 2, 0.00025: 2, 0.0005: 3, 0.001: 3, 1: 3} {
		if atMost[bound] != want {
			t.Errorf("at most %v s: %d, want %d", bound, atMost[bound], want)
		}
	}
	if len(atMost) != len(DurationBuckets) {
		t.Errorf("%d bounds, want %d", len(atMost), len(DurationBuckets))
	}
}
