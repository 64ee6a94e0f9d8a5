package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/kubewright/kubewright/internal/finding"
)

// report prints the table and, per repository, what made its numbers.
func report(out io.Writer, results []result) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tEXPECTED\tDETECTED\tRECALL\tPRECISION\tPORTS\tUNSUPPORTED\tFILES\tKUBE-SCORE CRIT\tVALIDATE ERR/WARN\tTIME")
	var tot result
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", r.name, len(r.expected.Services), r.duration.Round(1e8))
			continue
		}
		errs, warns := severities(r.validation)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%d/%d\t%s\n", r.name, len(r.expected.Services), r.detected,
			ratio(r.matched, len(r.expected.Services)), ratio(r.matched, r.detected), ratio(r.portsAgreed, r.portsChecked),
			count(r.unsupportedOK, r.unsupported), r.written, kubeCell(r), errs, warns, r.duration.Round(1e8))
		tot.matched += r.matched
		tot.detected += r.detected
		tot.portsAgreed += r.portsAgreed
		tot.portsChecked += r.portsChecked
		tot.unsupported += r.unsupported
		tot.unsupportedOK += r.unsupportedOK
		tot.written += r.written
		tot.kube = append(tot.kube, r.kube...)
		tot.validation = append(tot.validation, r.validation...)
	}
	expected := 0
	for _, r := range results {
		if r.err == nil {
			expected += len(r.expected.Services)
		}
	}
	errs, warns := severities(tot.validation)
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%d/%d\t\n", expected, tot.detected, ratio(tot.matched, expected), ratio(tot.matched, tot.detected),
		ratio(tot.portsAgreed, tot.portsChecked), count(tot.unsupportedOK, tot.unsupported), tot.written, kubeCell(tot), errs, warns)
	tw.Flush()
	fmt.Fprintln(out, "\nRECALL = matched/expected, PRECISION = matched/detected, PORTS = matched services on the expected port;")
	fmt.Fprintln(out, "KUBE-SCORE CRIT = CRITICAL findings on generated objects (+n: NetworkPolicies selecting operator-created pods kube-score cannot see).")

	for _, r := range results {
		fmt.Fprintf(out, "\n== %s (%s)\n", r.name, r.dir)
		if r.err != nil {
			fmt.Fprintf(out, "  error: %v\n", r.err)
			continue
		}
		list(out, "missed", r.missed)
		list(out, "not expected", r.extra)
		list(out, "port differs", r.portDiff)
		list(out, "unsupported not reported", r.unsupportedMissed)
		var crit []string
		objects := map[string]int{}
		for _, f := range r.kube {
			if !f.OperatorPods {
				objects[f.Object]++
			}
			crit = append(crit, f.String())
		}
		if len(objects) > 0 {
			var per []string
			for o, n := range objects {
				per = append(per, fmt.Sprintf("%s: %d", o, n))
			}
			sort.Strings(per)
			list(out, "kube-score CRITICAL per object", per)
		}
		list(out, "kube-score findings", crit)
		var vs []string
		for _, f := range r.validation {
			vs = append(vs, fmt.Sprintf("%s %s %s:%d %s", f.Severity, f.ID, f.File, f.Line, f.Message))
		}
		list(out, "validation findings on generated files", vs)
		list(out, "validation stages skipped", r.skipped)
	}
}

func list(out io.Writer, title string, items []string) {
	if len(items) == 0 {
		return
	}
	const max = 25
	fmt.Fprintf(out, "  %s (%d):\n", title, len(items))
	for i, it := range items {
		if i == max {
			fmt.Fprintf(out, "    ... %d more\n", len(items)-max)
			break
		}
		fmt.Fprintf(out, "    - %s\n", strings.TrimSpace(it))
	}
}

func kubeCell(r result) string {
	crit, op := 0, 0
	for _, f := range r.kube {
		if f.OperatorPods {
			op++
		} else {
			crit++
		}
	}
	if op > 0 {
		return fmt.Sprintf("%d (+%d)", crit, op)
	}
	return fmt.Sprint(crit)
}

func severities(fs []finding.Finding) (errs, warns int) {
	for _, f := range fs {
		if f.Severity == finding.Error {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

func ratio(a, b int) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%d/%d %.0f%%", a, b, 100*float64(a)/float64(b))
}

func count(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", a, b)
}
