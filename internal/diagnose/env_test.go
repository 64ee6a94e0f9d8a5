package diagnose

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kubewright/kubewright/internal/diagnose/diagnosetest"
)

// The kube-apiserver (with etcd) and the kubelet stand-in are started once
// per test binary, on first use, and stopped in TestMain. Tests that need
// them fail (never skip) when the binaries are missing.
var shared diagnosetest.Shared

type testEnv = diagnosetest.Env

// nodeName is the Node every test Pod is bound to.
const nodeName = diagnosetest.NodeName

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}

func sharedEnv(t testing.TB) *testEnv { return shared.Get(t) }

// setUp applies case testdata/<name> to namespace "diag-<name>" of the
// shared server; it is idempotent per test binary.
func setUp(t testing.TB, te *testEnv, name string) *diagnosetest.Fixture {
	t.Helper()
	return diagnosetest.SetUp(t, te, filepath.Join("testdata", name), "diag-"+name)
}

var lists = diagnosetest.Lists
