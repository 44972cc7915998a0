package main

import "testing"

// The capacity search doubles until a rate fails, then bisects, and ends
// with the highest rate that held.
func TestSearch(t *testing.T) {
	for _, tc := range []struct {
		capacity, start, max float64
		steps                int
		want                 float64
		rates                []float64
	}{
		{capacity: 700, start: 125, max: 8000, steps: 2, want: 625, rates: []float64{125, 250, 500, 1000, 750, 625}},
		{capacity: 9000, start: 1000, max: 4000, steps: 3, want: 4000, rates: []float64{1000, 2000, 4000}},
		{capacity: 50, start: 100, max: 8000, steps: 1, want: 0, rates: []float64{100, 50}},
	} {
		s := &search{steps: tc.steps, max: tc.max}
		var rates []float64
		for r := s.next(tc.start); r != 0; r = s.next(tc.start) {
			rates = append(rates, r)
			s.record(r, r < tc.capacity)
		}
		if s.held != tc.want || len(rates) != len(tc.rates) {
			t.Errorf("capacity %v: found %v after %v, want %v after %v", tc.capacity, s.held, rates, tc.want, tc.rates)
			continue
		}
		for i := range rates {
			if rates[i] != tc.rates[i] {
				t.Errorf("capacity %v: tried %v, want %v", tc.capacity, rates, tc.rates)
				break
			}
		}
	}
}
