package dryrun

import (
	"context"
	"sort"
	"testing"

	"github.com/kubewright/kubewright/internal/validate/validatetest"
)

// TestDryRunAgainstExistingCluster uses the ephemeral server as if it were
// a real cluster reached with --kubeconfig: nothing is installed or
// created, a CRD missing there is a finding, and objects in a namespace
// the change itself creates are reported as such instead of failing.
func TestDryRunAgainstExistingCluster(t *testing.T) {
	e := testEphemeral(t)
	in := validatetest.NewInput(t, map[string]string{
		"k8s/ns.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: created-by-change\n",
		"k8s/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\n  namespace: created-by-change\ndata:\n  a: b\n",
		"k8s/ok.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n  namespace: default\ndata:\n  a: b\n",
		"k8s/lost.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lost\n  namespace: nowhere\ndata:\n  a: b\n",
		"k8s/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\nspec: {}\n",
		"k8s/bad.yaml":    "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\n  namespace: default\nspec:\n  ports:\n  - port: 99999\n",
	})
	c := Check{Config: e.Config}
	var got []string
	for _, f := range c.Check(context.Background(), in) {
		got = append(got, f.ID+" "+string(f.Severity)+" "+f.Object)
	}
	sort.Strings(got)
	want := []string{
		// port and the targetPort it defaults to are both out of range
		"KW-DRYRUN-001 error Service/default/bad",
		"KW-DRYRUN-001 error Service/default/bad",
		"KW-DRYRUN-003 error Widget/default/w",
		"KW-DRYRUN-004 info ConfigMap/created-by-change/new",
		"KW-DRYRUN-005 warning ConfigMap/nowhere/lost",
	}
	if len(got) != len(want) {
		t.Fatalf("findings:\n%v\nwant:\n%v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("finding %d = %s, want %s", i, got[i], want[i])
		}
	}
	// Nothing was created: the namespace still does not exist.
	again := c.Check(context.Background(), in)
	found := false
	for _, f := range again {
		found = found || f.ID == "KW-DRYRUN-004"
	}
	if !found {
		t.Error("the dry-run created the namespace on the 'real' cluster")
	}
}
