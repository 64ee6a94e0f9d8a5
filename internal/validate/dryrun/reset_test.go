package dryrun

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// The alternative to a server per job, measured by BenchmarkJobIsolation:
// reset a used server to the state it started in, and verify it. A job
// only writes CRDs and Namespaces for real, so the reset deletes those
// (namespaces need their finalizer cleared by hand: no controller runs),
// then lists every listable resource and compares names with the
// snapshot taken when the server was new.

// serverState names every object a server holds ("resource.group ns/name").
type serverState map[string]bool

// snapshotServer lists every object of every listable resource.
func snapshotServer(ctx context.Context, cfg *rest.Config) (serverState, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{} // deprecated kinds are listed too
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists, err := disc.ServerPreferredResources()
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	state := serverState{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !hasVerb(r.Verbs, "list") || r.Name == "events" {
				continue
			}
			got, err := md.Resource(gv.WithResource(r.Name)).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", r.Name, err)
			}
			for _, o := range got.Items {
				state[r.Name+"."+gv.Group+" "+o.Namespace+"/"+o.Name] = true
			}
		}
	}
	return state, nil
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// resetServer deletes the CRDs and Namespaces a job created, waits for
// them to be gone and verifies the server holds exactly what it held new.
func resetServer(ctx context.Context, cfg *rest.Config, base serverState) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	crds, err := md.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, c := range crds.Items {
		if !base["customresourcedefinitions.apiextensions.k8s.io /"+c.Name] {
			if err := md.Resource(crdGVR).Delete(ctx, c.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, ns := range nss.Items {
		if base["namespaces. /"+ns.Name] {
			continue
		}
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		got, err := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return err
		}
		got.Spec.Finalizers = nil
		if _, err := cs.CoreV1().Namespaces().Finalize(ctx, got, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	var diff []string
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		now, err := snapshotServer(ctx, cfg)
		if apierrors.IsNotFound(err) {
			return false, nil // a CRD went away between discovery and its list
		} else if err != nil {
			return false, err
		}
		diff = diff[:0]
		for k := range now {
			if !base[k] {
				diff = append(diff, "+"+k)
			}
		}
		for k := range base {
			if !now[k] {
				diff = append(diff, "-"+k)
			}
		}
		return len(diff) == 0, nil
	})
	if err != nil {
		sort.Strings(diff)
		return fmt.Errorf("reset not verified: %w; differences: %v", err, diff)
	}
	return nil
}

// childrenCPU is the CPU time, in seconds, of every child process this
// process started: those still running (/proc) and those reaped (rusage).
func childrenCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	total := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	ents, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range ents {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		end := strings.LastIndexByte(s, ')')
		if end < 0 {
			continue
		}
		f := strings.Fields(s[end+1:])
		// state ppid ... utime(14) stime(15), counted from pid: f[0] is field 3.
		if len(f) < 13 || f[1] != me {
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		total += (ut + st) / 100 // USER_HZ is 100 on Linux
	}
	return total
}
