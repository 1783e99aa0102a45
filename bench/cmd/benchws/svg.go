package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// chartSVG draws grouped bars: one group per headline metric, one bar per
// server, each bar the server's score relative to the best peer (1 = best
// peer, higher is better; latency and memory are inverted so that this
// holds for them too).
func chartSVG(t *table, defs []metricDef) string {
	var groups []metricDef
	for _, d := range defs {
		if d.chart != "" {
			groups = append(groups, d)
		}
	}
	top := 1.0
	for _, d := range groups {
		for _, s := range t.servers {
			if v := t.score(s, d); !math.IsNaN(v) && v > top {
				top = v
			}
		}
	}
	top = math.Ceil(top*4) / 4 // round the axis up to a multiple of 0.25

	const (
		barW     = 16.0
		groupGap = 28.0
		left     = 56.0
		right    = 20.0
		plotTop  = 70.0
		plotH    = 260.0
		bottom   = 50.0
	)
	n := max(len(t.servers), 1)
	groupW := float64(n)*barW + groupGap
	width := left + right + float64(max(len(groups), 1))*groupW
	height := plotTop + plotH + bottom
	y := func(v float64) float64 { return plotTop + plotH - v/top*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="18" font-size="14" font-weight="bold">Performance relative to the best peer library (1 = best peer, higher is better)</text>`+"\n", left)

	// Legend.
	x := left
	for i, s := range t.servers {
		fmt.Fprintf(&b, `<rect x="%.0f" y="30" width="12" height="12" fill="%s"/><text x="%.0f" y="40">%s</text>`+"\n",
			x, color(i, s), x+16, html.EscapeString(s))
		x += 24 + 7*float64(len(s))
	}

	// Axis with grid lines every 0.25.
	for v := 0.0; v <= top+1e-9; v += 0.25 {
		stroke := "#e0e0e0"
		if v == 1 {
			stroke = "#555"
		}
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="%s"/>`+"\n", left, width-right, y(v), y(v), stroke)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%.2f</text>`+"\n", left-6, y(v)+4, v)
	}

	// Bars.
	for gi, d := range groups {
		gx := left + float64(gi)*groupW + groupGap/2
		for si, s := range t.servers {
			v := t.score(s, d)
			bx := gx + float64(si)*barW
			if math.IsNaN(v) {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#999">–</text>`+"\n", bx+barW/2, y(0)-3)
				continue
			}
			h := v / top * plotH
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %.2f</title></rect>`+"\n",
				bx+1, y(v), barW-2, h, color(si, s), html.EscapeString(s), html.EscapeString(d.chart), v)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n",
			gx+float64(n)*barW/2, plotTop+plotH+18, html.EscapeString(d.chart))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="#555">Throughput: value / best peer. Idle memory: best peer / value.</text>`+"\n",
		left, plotTop+plotH+40)
	b.WriteString("</svg>\n")
	return b.String()
}

// color returns the bar colour of the i-th server; the benchmark's own
// library always gets the same strong colour.
func color(i int, name string) string {
	switch {
	case name == ownServer:
		return "#d62728"
	case isOwn(name):
		return "#ff9896"
	}
	palette := []string{"#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f", "#bcbd22"}
	return palette[i%len(palette)]
}
