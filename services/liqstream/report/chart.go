package report

import (
	"fmt"
	"image/color"
	"math/big"
	"sort"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart draws the daily collateral USD per chain as stacked bars, one bar
// per UTC day of the window, and saves it as a PNG (the file's extension
// picks the format; .png is the documented one). Values are plotted in
// millions of USD; the exact figures are in the report itself.
func (r *Report) Chart(path string) error {
	var days []time.Time
	for d := dayOf(r.From); d.Before(r.To); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	if len(days) == 0 {
		return fmt.Errorf("%w: no day to chart", ErrNoData)
	}
	index := map[time.Time]int{}
	for i, d := range days {
		index[d] = i
	}
	type series struct {
		chain string
		vals  plotter.Values
		total *big.Int
	}
	byChain := map[uint64]*series{}
	for _, p := range r.Daily {
		s := byChain[p.ChainID]
		if s == nil {
			s = &series{chain: p.Chain, vals: make(plotter.Values, len(days)), total: new(big.Int)}
			byChain[p.ChainID] = s
		}
		if i, ok := index[p.Day]; ok {
			f, _ := new(big.Rat).SetFrac(p.CollateralUSD, big.NewInt(1e14)).Float64() // 1e-8 USD → $M
			s.vals[i] += f
		}
		s.total.Add(s.total, p.CollateralUSD)
	}
	list := make([]*series, 0, len(byChain))
	for _, s := range byChain {
		list = append(list, s)
	}
	// Largest chain at the bottom of the stack.
	sort.Slice(list, func(i, j int) bool {
		if c := list[i].total.Cmp(list[j].total); c != 0 {
			return c > 0
		}
		return list[i].chain < list[j].chain
	})

	p := plot.New()
	p.Title.Text = fmt.Sprintf("Collateral liquidated per day (USD millions), [%s, %s) UTC", fmtTime(r.From), fmtTime(r.To))
	p.Y.Label.Text = "collateral seized, $M"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = false
	width := vg.Points(max(2, 480/float64(len(days))))
	var below *plotter.BarChart
	for i, s := range list {
		bc, err := plotter.NewBarChart(s.vals, width)
		if err != nil {
			return fmt.Errorf("charting %s: %w", s.chain, err)
		}
		bc.LineStyle.Width = 0
		bc.Color = palette(i)
		if below != nil {
			bc.StackOn(below)
		}
		below = bc
		p.Add(bc)
		p.Legend.Add(s.chain, bc)
	}
	// Headroom above the tallest stack for the legend.
	top := 0.0
	for i := range days {
		sum := 0.0
		for _, s := range list {
			sum += s.vals[i]
		}
		top = max(top, sum)
	}
	if top > 0 {
		p.Y.Max = top * 1.2
	}
	labels := make([]string, len(days))
	step := max(1, len(days)/10)
	for i, d := range days {
		if i%step == 0 {
			labels[i] = d.Format("Jan 2")
		}
	}
	p.NominalX(labels...)
	p.Add(plotter.NewGrid())
	if err := p.Save(22*vg.Centimeter, 12*vg.Centimeter, path); err != nil {
		return fmt.Errorf("saving the chart to %s: %w", path, err)
	}
	return nil
}

func palette(i int) color.Color { return plotutil.Color(i) }

func dayOf(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
