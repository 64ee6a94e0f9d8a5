package diagnose

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Log lines are whatever a workload prints: the parser must not panic,
// and every host it reports is in the line.
func FuzzConnErrors(f *testing.F) {
	for _, s := range []string{
		`dial tcp: lookup postgress on 10.96.0.10:53: no such host`,
		`Error: connect ECONNREFUSED 10.0.0.7:6379`,
		`HTTPConnectionPool(host='orders', port=8080): Max retries exceeded ([Errno 111] Connection refused)`,
		`connection to server at "postgres" (10.0.0.9), port 5432 failed: Connection refused`,
		"lookup \x00: no such host", strings.Repeat("dial tcp a:1: connect: connection refused ", 50),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, ce := range connErrors(line) {
			if ce.host == "" || !strings.Contains(line, ce.host) || ce.port != "" && !strings.Contains(line, ce.port) {
				t.Fatalf("%q: reported %+v", line, ce)
			}
		}
		_ = mentionsHost(line, "orders")
		_ = logEvidence(&Log{Lines: strings.Split(line, "\n")}, 3)
	})
}

// Kubelet, scheduler and Flux messages are cluster text: the detectors
// that read them must not panic on any.
func FuzzMessages(f *testing.F) {
	for _, s := range []string{
		`couldn't find key password in Secret shop/db`, `secret "db" not found`,
		`0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}.`,
		`Readiness probe failed: HTTP probe failed with statuscode: 404`, `Liveness probe failed:`, ":", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}
		pr := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString(msg)}}}
		_ = analyzeProbe("readiness", c, pr, []*corev1.Event{{Message: msg}})
		_ = missingKey.FindStringSubmatch(msg)
		_ = missingObject.FindStringSubmatch(msg)
		_ = schedTaint.FindStringSubmatch(msg)
		_ = fluxField(FluxObject{Kind: "Kustomization", Message: msg})
		_ = firstLine(msg)
		d := &diag{s: &Snapshot{Namespace: "shop"}, loc: newLocator(nil)}
		_ = d.namedInMessage(msg)
	})
}

// Evidence is cluster text put in a Markdown code block: no line of it
// can close the block.
func FuzzFenced(f *testing.F) {
	for _, s := range []string{"```", "a\n````\nb", "~~~", "`` ` ```` `"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		out := fenced(text)
		fence := out[:strings.Index(out, "text\n")]
		body := strings.TrimSuffix(strings.TrimPrefix(out, fence+"text\n"), "\n"+fence+"\n")
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(strings.TrimLeft(line, " "), fence) {
				t.Fatalf("line %q closes fence %q", line, fence)
			}
		}
		if esc := mdEscape(text); strings.ContainsAny(esc, "\n\r") || strings.Contains(strings.ReplaceAll(esc, `\|`, ""), "|") {
			t.Fatalf("mdEscape(%q) = %q breaks a table cell", text, esc)
		}
	})
}
