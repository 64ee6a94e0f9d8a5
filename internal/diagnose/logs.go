package diagnose

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubewright/kubewright/internal/redact"
)

// Log is a bounded, redacted excerpt of one container's log.
type Log struct {
	Pod       string `json:"pod"`
	Container string `json:"container"`
	// Previous is true for the log of the container's last terminated
	// instance (what a crash left behind).
	Previous bool     `json:"previous,omitempty"`
	Lines    []string `json:"lines"`
	// Truncated is true when the log was longer than the bounds.
	Truncated bool `json:"truncated,omitempty"`

	owner objRef
}

// maxLineBytes bounds one log line as kept.
const maxLineBytes = 1000

// logTarget is one log to read.
type logTarget struct {
	pod, container string
	previous       bool
	owner          objRef
}

// logTargets picks the logs worth reading: for each workload and
// container with a failing instance, the Pod that restarted most (its
// previous log when it has one, its current log while it runs or after
// it ended). When a service is named, its healthy containers' current
// logs too (they may show the failures of what it calls). Failing ones
// first, at most max.
func (d *diag) logTargets(max int) []logTarget {
	type pick struct {
		pod   string
		cs    corev1.ContainerStatus
		owner objRef
		bad   bool
	}
	picks := map[string]pick{}
	for i := range d.s.Pods {
		p := &d.s.Pods[i]
		if !d.scope.pod(p.Name) || p.Spec.NodeName == "" {
			continue
		}
		owner := d.ownerOf(p)
		for _, cs := range allStatuses(p) {
			bad := unhealthy(cs) || cs.RestartCount > 0
			if !bad && (d.scope.all() || isInit(p, cs.Name)) {
				continue
			}
			k := owner.String() + "/" + cs.Name
			cur, ok := picks[k]
			if !ok || bad && !cur.bad || bad == cur.bad && cs.RestartCount > cur.cs.RestartCount {
				picks[k] = pick{pod: p.Name, cs: cs, owner: owner, bad: bad}
			}
		}
	}
	keys := make([]string, 0, len(picks))
	for k := range picks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []logTarget
	for _, failing := range []bool{true, false} {
		for _, k := range keys {
			pk := picks[k]
			if pk.bad != failing {
				continue
			}
			if pk.cs.LastTerminationState.Terminated != nil {
				out = append(out, logTarget{pod: pk.pod, container: pk.cs.Name, previous: true, owner: pk.owner})
			}
			if pk.cs.State.Running != nil || pk.cs.State.Terminated != nil {
				out = append(out, logTarget{pod: pk.pod, container: pk.cs.Name, owner: pk.owner})
			}
		}
	}
	if len(out) > max {
		d.notes = append(d.notes, fmt.Sprintf("%d logs would help, only %d were read (the failing containers' first)", len(out), max))
		out = out[:max]
	}
	return out
}

// readLogs reads the chosen logs through the API server's pods/log
// subresource, bounded by the kubelet (tailLines, limitBytes) and again
// here, four at a time, and redacts them.
func (d *diag) readLogs(ctx context.Context, cl Cluster) {
	targets := d.logTargets(d.o.maxLogStreams)
	logs := make([]*Log, len(targets))
	errs := make([]error, len(targets))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			logs[i], errs[i] = readLog(ctx, cl, d.s.Namespace, t, d.o.logLines, d.o.logBytes)
		}()
	}
	wg.Wait()
	for i, t := range targets {
		if errs[i] != nil {
			which := "log"
			if t.previous {
				which = "previous log"
			}
			d.notes = append(d.notes, fmt.Sprintf("the %s of container %s in pod %s was not read: %s", which, t.container, t.pod, text(errs[i].Error())))
			continue
		}
		d.s.Logs = append(d.s.Logs, *logs[i])
	}
}

func readLog(ctx context.Context, cl Cluster, ns string, t logTarget, lines, limit int64) (*Log, error) {
	opts := &corev1.PodLogOptions{Container: t.container, Previous: t.previous, TailLines: &lines, LimitBytes: &limit}
	rc, err := cl.Kube.CoreV1().Pods(ns).GetLogs(t.pod, opts).Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	l := &Log{Pod: t.pod, Container: t.container, Previous: t.previous, owner: t.owner}
	if int64(len(b)) >= limit {
		// Cut at the bound: drop the partial last line.
		b = b[:min(int64(len(b)), limit)]
		if i := strings.LastIndexByte(string(b), '\n'); i >= 0 {
			b = b[:i+1]
		}
		l.Truncated = true
	}
	red, _ := redact.Text(string(b))
	all := strings.Split(strings.TrimRight(red, "\n"), "\n")
	if len(all) == 1 && all[0] == "" {
		all = nil
	}
	if int64(len(all)) > lines {
		all = all[int64(len(all))-lines:]
		l.Truncated = true
	}
	l.Lines = make([]string, 0, len(all))
	for _, line := range all {
		l.Lines = append(l.Lines, clip(strings.TrimRight(line, "\r"), maxLineBytes))
	}
	return l, nil
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// logOf returns the log read for a container (previous or current).
func (d *diag) logOf(pod, container string, previous bool) *Log {
	for i := range d.s.Logs {
		l := &d.s.Logs[i]
		if l.Pod == pod && l.Container == container && l.Previous == previous {
			return l
		}
	}
	return nil
}

// telling matches log lines that usually say why a process failed.
var telling = regexp.MustCompile(`(?i)\b(error|fatal|panic|exception|failed|failure|refused|denied|not found|no such|cannot|unable|invalid|missing|required|killed|timed out|timeout)\b`)

// logEvidence quotes a log: its last n lines that read like an error, or,
// when none does, its last n lines that are not blank; in log order.
func logEvidence(l *Log, n int) []string {
	if l == nil {
		return nil
	}
	var picked []string
	for _, match := range []func(string) bool{telling.MatchString, func(s string) bool { return strings.TrimSpace(s) != "" }} {
		for i := len(l.Lines) - 1; i >= 0 && len(picked) < n; i-- {
			if match(l.Lines[i]) {
				picked = append(picked, l.Lines[i])
			}
		}
		if len(picked) > 0 {
			break
		}
	}
	which := "log"
	if l.Previous {
		which = "previous log"
	}
	out := make([]string, 0, len(picked))
	for i := len(picked) - 1; i >= 0; i-- {
		out = append(out, fmt.Sprintf("%s %s/%s: %s", which, l.Pod, l.Container, picked[i]))
	}
	return out
}

func allStatuses(p *corev1.Pod) []corev1.ContainerStatus {
	return append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
}

func isInit(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}
