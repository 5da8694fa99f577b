package sim

import (
	"math"
	"slices"
	"time"
)

// dayWeights is the wave shape: the multiple of a chain's baseline daily rate
// on special UTC days. Other days weigh 1. Days with weight >= peakWeight are
// the named peak days that must reach 3× their trailing 14-day median.
var dayWeights = map[string]float64{
	"2026-01-15": 8, "2026-01-16": 1.5,
	"2026-01-29": 8, "2026-01-30": 1.5, "2026-01-31": 2, "2026-02-01": 2,
	"2026-02-02": 10, "2026-02-03": 12, "2026-02-04": 10, "2026-02-05": 9,
	"2026-02-06": 2, "2026-02-07": 1.5,
}

const (
	peakWeight = 8
	// weightSum is the sum of day weights over the default window (59 days);
	// a chain's baseline rate is volume / weightSum events per day.
	weightSum = 47 + 8 + 8 + 10 + 12 + 10 + 9 + 1.5 + 1.5 + 2 + 2 + 2 + 1.5
	// trailingDays is the window of the peak-day median rule.
	trailingDays = 14
	day          = 24 * time.Hour
)

// PeakDays returns the named peak days of the wave shape (UTC midnights).
func PeakDays() []time.Time {
	var out []time.Time
	for k, w := range dayWeights {
		if w >= peakWeight {
			t, _ := time.Parse(time.DateOnly, k)
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// windowDays returns the UTC midnights of every day overlapping [from, to).
func windowDays(from, to time.Time) []time.Time {
	var out []time.Time
	for d := from.Truncate(day); d.Before(to); d = d.Add(day) {
		out = append(out, d)
	}
	return out
}

// dailyCounts draws the number of liquidations per chain and day: baseline ×
// day weight × a bounded noise in [0.8, 1.25] × the part of the day inside
// the window. Bounded noise keeps the peak rule true by construction at
// realistic scales; enforcePeaks makes it hold at any scale.
func dailyCounts(cfg Config, days []time.Time) map[uint64][]int {
	out := map[uint64][]int{}
	for _, id := range cfg.Chains {
		spec := chainSpecs[id]
		r := newRand(cfg.Seed, id, "daily-counts")
		base := spec.volume * cfg.Scale / weightSum
		counts := make([]int, len(days))
		for i, d := range days {
			noise := 0.8 + 0.45*r.Float64()
			w := dayWeights[d.Format(time.DateOnly)]
			if w == 0 {
				w = 1
			}
			lo, hi := maxTime(d, cfg.From), minTime(d.Add(day), cfg.To)
			cover := float64(hi.Sub(lo)) / float64(day)
			counts[i] = int(math.Round(base * w * noise * cover))
		}
		out[id] = counts
	}
	enforcePeaks(cfg.Chains, days, out)
	return out
}

// enforcePeaks raises peak-day counts until each is at least 1 and at least
// 3× the median of the 14 days before it, per chain and for the sum over
// chains (the deficit of the sum goes to the chain with the most events).
func enforcePeaks(ids []uint64, days []time.Time, counts map[uint64][]int) {
	var peaks []int
	for i, d := range days {
		if dayWeights[d.Format(time.DateOnly)] >= peakWeight {
			peaks = append(peaks, i)
		}
	}
	if len(peaks) == 0 || len(ids) == 0 {
		return
	}
	biggest := ids[0]
	for _, id := range ids {
		if chainSpecs[id].volume > chainSpecs[biggest].volume {
			biggest = id
		}
	}
	for pass := 0; pass < 20; pass++ {
		changed := false
		for _, id := range ids {
			for _, i := range peaks {
				if need := peakNeed(counts[id], i); counts[id][i] < need {
					counts[id][i], changed = need, true
				}
			}
		}
		total := make([]int, len(days))
		for _, id := range ids {
			for i, c := range counts[id] {
				total[i] += c
			}
		}
		for _, i := range peaks {
			if need := peakNeed(total, i); total[i] < need {
				counts[biggest][i] += need - total[i]
				total[i], changed = need, true
			}
		}
		if !changed {
			return
		}
	}
}

// peakNeed returns the smallest count day i needs: max(1, ⌈3 × median⌉) of
// the up to 14 days before it.
func peakNeed(counts []int, i int) int {
	m2 := trailingMedian2(counts, i, trailingDays)
	return max(1, (3*m2+1)/2)
}

// trailingMedian2 returns twice the median of counts[i-n:i] (fewer at the
// start), 0 when there are none. Twice, so the result stays an integer.
func trailingMedian2(counts []int, i, n int) int {
	w := slices.Clone(counts[max(0, i-n):i])
	if len(w) == 0 {
		return 0
	}
	slices.Sort(w)
	if len(w)%2 == 1 {
		return 2 * w[len(w)/2]
	}
	return w[len(w)/2-1] + w[len(w)/2]
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
