package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Targets of the scale phase (issue 12).
const (
	scaleRSSTarget   = 64 << 10 // KiB
	scaleConnsTarget = 64
	scaleRatioTarget = 0.9
)

func (r *results) largest() (scaleStep, bool) {
	if r.scale == nil || len(r.scale.Steps) == 0 {
		return scaleStep{}, false
	}
	return r.scale.Steps[len(r.scale.Steps)-1], true
}

func (r *results) writeScaleTargets(p printer) {
	top, ok := r.largest()
	if !ok {
		p("| a mount with 10 000 configs | not run (`BENCH_SCALE=0`) | |\n")
		return
	}
	ratio := top.Rand.RPS() / top.Single.RPS()
	p("| %d warm configs: plugin RSS ≤ 64 MiB | %.1f MiB | %s |\n", top.Configs, float64(top.RSSKiB)/1024, passMiss(top.RSSKiB <= scaleRSSTarget))
	p("| %d warm configs: ≤ %d connections to the vendor host | %d | %s |\n", top.Configs, scaleConnsTarget, top.VendorConns, passMiss(top.VendorConns <= scaleConnsTarget))
	p("| %d warm configs: hits over random names ≥ 0.9× one name's | %.2f× | %s |\n", top.Configs, ratio, passMiss(ratio >= scaleRatioTarget))
	if ps := r.scale.Pass; ps.Found {
		p("| %d due tokens (%s vendor) refreshed within one periodic tick, %d configs mounted | %d of %d in %s, %d failed | %s |\n",
			r.scale.Due, human(r.scale.Delay), top.Configs, ps.Refreshed, ps.Due, ms(ps.PluginTook), ps.Failed,
			passMiss(ps.Refreshed >= r.scale.Due && ps.Failed == 0 && ps.PluginTook < time.Minute))
	}
}

func (r *results) writeScale(p printer, reportPath string) error {
	sr := r.scale
	if sr == nil || len(sr.Steps) == 0 {
		return nil
	}
	svg := strings.TrimSuffix(filepath.Base(reportPath), filepath.Ext(reportPath)) + "-scale.svg"
	if err := os.WriteFile(filepath.Join(filepath.Dir(reportPath), svg), []byte(scaleSVG(sr)), 0o644); err != nil {
		return err
	}
	p("## 7. One mount, many configs\n\n")
	p("The mount grows to %s configs, all at the simulator (one host: %s for the bulk, %s for the\n", joinInts(stepCounts(sr)), "`"+scaleVendor+"`", "`"+slowVendor+"`")
	p("due ones), each written (`verify=false`, `lease=false`) and read once by %d writers. At each size:\n", sr.Writers)
	p("cache-hit throughput with %d readers over random names next to one name's (%s each, 3 interleaved\n", sr.Concurrency, human(r.opts.scaleCell))
	p("rounds), then, idle: the plugin process's RSS and OS threads, its established TCP connections to\n")
	p("the simulator (socket inodes of `/proc/<pid>/fd` in `/proc/<pid>/net/tcp`), and `LIST config/`\n")
	p("(median of 3). %d of the configs (from the 1 000 step on) get %s tokens from a vendor that answers\n", sr.Due, human(sr.Lifetime))
	p("after %s; they were read once, so the periodic refreshes them ahead of readers, all in one pass.\n\n", human(sr.Delay))
	p("![throughput and RSS against the number of configs](%s)\n\n", svg)
	p("| configs | written + read once | hits, random names | hits, one name | random / one | plugin RSS | threads | connections to the vendor | LIST config/ |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, st := range sr.Steps {
		rate := ""
		if st.Added > 0 {
			rate = fmt.Sprintf("%d in %s", st.Added, secs(st.WriteTook))
		}
		p("| %d | %s | %.0f req/s | %.0f req/s | %.2f | %.1f MiB | %d | %d | %s (%d keys) |\n", st.Configs, rate, st.Rand.RPS(), st.Single.RPS(),
			st.Rand.RPS()/st.Single.RPS(), float64(st.RSSKiB)/1024, st.Threads, st.VendorConns, ms(st.ListP50), st.ListKeys)
	}
	ps := sr.Pass
	p("\nThe periodic pass with %d configs mounted: ", sr.Steps[len(sr.Steps)-1].Configs)
	if !ps.Found {
		p("the plugin's pass line was not found in Vault's log (the simulator saw %d of %d refreshes).\n\n", ps.Requests, sr.Due)
		return nil
	}
	p("%d tokens due, %d refreshed, %d failed, in %s by the plugin's own clock (%d workers; the\n", ps.Due, ps.Refreshed, ps.Failed, ms(ps.PluginTook), 16)
	p("simulator saw the first to the last of its %d requests within %s, counting one vendor delay),\n", ps.Requests, ms(ps.VendorSpan))
	p("%s after the tokens were minted; the plugin had %d goroutines at the end of the pass. One at a\n", ps.Waited.Round(time.Second), ps.Goroutines)
	p("time, %d grants of %s would take %s.\n\n", ps.Due, human(sr.Delay), secs(time.Duration(ps.Due)*sr.Delay))
	return nil
}

func stepCounts(sr *scaleResult) []int {
	var out []int
	for _, st := range sr.Steps {
		out = append(out, st.Configs)
	}
	return out
}

// scaleSVG draws two panels against the number of configs (log scale):
// cache-hit throughput (random names, one name) and plugin RSS.
func scaleSVG(sr *scaleResult) string {
	const w, h, pw, ph, left, top = 820, 300, 320, 200, 70, 40
	var b strings.Builder
	f := func(format string, args ...interface{}) { fmt.Fprintf(&b, format, args...) }
	f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", w, h)
	f(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	maxN := float64(sr.Steps[len(sr.Steps)-1].Configs)
	xOf := func(n int, x0 int) float64 {
		return float64(x0) + float64(pw)*math.Log10(float64(n))/math.Max(math.Log10(maxN), 1)
	}
	panel := func(x0 int, title, unit string, ymax float64, series []scaleSeries, target float64) {
		f(`<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", x0, top-15, title)
		f(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`+"\n", x0, top, pw, ph)
		yOf := func(v float64) float64 { return float64(top+ph) - float64(ph)*v/ymax }
		for i := 0; i <= 4; i++ {
			v := ymax * float64(i) / 4
			f(`<text x="%d" y="%.1f" text-anchor="end">%.0f</text>`+"\n", x0-5, yOf(v)+4, v)
			f(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x0, x0+pw, yOf(v), yOf(v))
		}
		f(`<text x="%d" y="%d" transform="rotate(-90 %d %d)" text-anchor="middle">%s</text>`+"\n", x0-50, top+ph/2, x0-50, top+ph/2, unit)
		for _, st := range sr.Steps {
			x := xOf(st.Configs, x0)
			f(`<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x, top+ph+15, st.Configs)
		}
		f(`<text x="%d" y="%d" text-anchor="middle">configs on the mount (log scale)</text>`+"\n", x0+pw/2, top+ph+32)
		if target > 0 {
			f(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#c33" stroke-dasharray="4 3"/>`+"\n", x0, x0+pw, yOf(target), yOf(target))
			f(`<text x="%d" y="%.1f" fill="#c33" text-anchor="end">target</text>`+"\n", x0+pw-4, yOf(target)-4)
		}
		for k, s := range series {
			var pts []string
			for i, st := range sr.Steps {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xOf(st.Configs, x0), yOf(s.values[i])))
			}
			dash := ""
			if k == 1 {
				dash = ` stroke-dasharray="6 4"`
			}
			f(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), s.color, dash)
			for i, st := range sr.Steps {
				f(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", xOf(st.Configs, x0), yOf(s.values[i]), s.color)
			}
			f(`<text x="%d" y="%d" fill="%s">%s</text>`+"\n", x0+10, top+15+15*k, s.color, s.label)
		}
	}
	var randRPS, oneRPS, rss []float64
	ymaxT, ymaxM := 0.0, float64(scaleRSSTarget)/1024
	for _, st := range sr.Steps {
		randRPS = append(randRPS, st.Rand.RPS())
		oneRPS = append(oneRPS, st.Single.RPS())
		rss = append(rss, float64(st.RSSKiB)/1024)
		ymaxT = math.Max(ymaxT, math.Max(st.Rand.RPS(), st.Single.RPS()))
		ymaxM = math.Max(ymaxM, float64(st.RSSKiB)/1024)
	}
	panel(left, "cache-hit throughput, "+fmt.Sprint(sr.Concurrency)+" readers", "req/s", niceCeil(ymaxT*1.15),
		[]scaleSeries{{"random names", "#1f77b4", randRPS}, {"one name", "#ff7f0e", oneRPS}}, 0)
	panel(left+pw+110, "plugin process RSS", "MiB", niceCeil(ymaxM*1.15), []scaleSeries{{"RSS", "#2ca02c", rss}}, float64(scaleRSSTarget)/1024)
	f("</svg>\n")
	return b.String()
}

type scaleSeries struct {
	label, color string
	values       []float64
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
