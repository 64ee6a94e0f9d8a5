package job

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/queue"
	"github.com/kubewright/kubewright/internal/validate"
	"github.com/kubewright/kubewright/internal/validate/build"
)

// FollowUp bounds how long a merged operation is watched in the cluster
// and how often it is read.
type FollowUp struct {
	Timeout, Every time.Duration
}

// DefaultFollowUp watches for up to 10 minutes after the merge (Flux's
// default interval is a few minutes), reading every 15 seconds.
var DefaultFollowUp = FollowUp{Timeout: 10 * time.Minute, Every: 15 * time.Second}

// WithFollowUp changes how a merged operation is watched.
func WithFollowUp(f FollowUp) Option { return func(r *Runner) { r.follow = f } }

var followBranch = regexp.MustCompile(`^kubewright/(scale|image|autoscale|resources|rollback)-([a-z0-9]([-a-z0-9]*[a-z0-9])?)-[0-9]+$`)

// followUp reads the workloads of a merged operation's service once: when
// the cluster runs what the default branch now says (their images and,
// unless an autoscaler owns them, their replicas), updated and ready, it
// says so on the pull request. Until then the job is snoozed and read
// again (a worker is not held while Flux applies the change); once
// FollowUp.Timeout has passed since the merge, it says the change is not
// live, with the diagnosis. Without a cluster it does nothing.
func (r *Runner) followUp(ctx context.Context, log *slog.Logger, pub Publisher, q task, head string, mergedAt time.Time) error {
	m := followBranch.FindStringSubmatch(head)
	if r.cluster == nil || m == nil {
		log.Info("merged: no follow-up", "branch", head, "cluster", r.cluster != nil)
		return nil
	}
	op, service := m[1], m[2]
	w, ok := r.watching.get(q.delivery)
	if !ok {
		var answered bool
		var err error
		if w, answered, err = r.watchTarget(ctx, pub, q, service); err != nil || answered {
			return err
		}
		r.watching.put(q.delivery, w, r.follow.Timeout)
	}
	ns, want := w.ns, w.want
	if mergedAt.IsZero() {
		mergedAt = w.since // a request without the merge time: from the first read
	}
	live := true
	var state []string
	for _, w := range want {
		ok, line := r.rolledOut(ctx, ns, w)
		live = live && ok
		state = append(state, line)
	}
	since := time.Since(mergedAt)
	if live {
		r.watching.drop(q.delivery)
		log.Info("merged change is live", "op", op, "service", service, "after", since.Round(time.Second))
		return r.comment(ctx, pub, q, fmt.Sprintf("✅ The merged `%s` of `%s` is live in `%s` %s after the merge:\n\n- %s",
			op, service, ns, since.Round(time.Second), strings.Join(state, "\n- ")))
	}
	if since < r.follow.Timeout {
		log.Info("merged change not live yet", "op", op, "service", service, "after", since.Round(time.Second), "next", r.follow.Every)
		return queue.RetryAfter(min(r.follow.Every, r.follow.Timeout-since))
	}
	r.watching.drop(q.delivery)
	body := fmt.Sprintf("⚠️ The merged `%s` of `%s` is not live in `%s` %s after the merge:\n\n- %s\n\nFlux may not have applied it yet (`flux get kustomizations`), or the new Pods fail:",
		op, service, ns, since.Round(time.Second), strings.Join(state, "\n- "))
	if rep, err := diagnose.Diagnose(ctx, *r.cluster, ns, service, ""); err == nil && len(rep.Findings) > 0 {
		for _, f := range rep.Findings[:min(len(rep.Findings), 5)] {
			body += fmt.Sprintf("\n- **%s** `%s` %s", f.Severity, f.ID, f.Message)
		}
		body += fmt.Sprintf("\n\nComment `%s diagnose %s` on an issue for the full diagnosis.", r.prefix, service)
	} else {
		body += " no failing Pod was found."
	}
	log.Info("merged change not live", "op", op, "service", service, "after", since.Round(time.Second))
	return r.comment(ctx, pub, q, body)
}

// watchTarget reads the merged manifests once: the service's namespace and
// its Deployments, as the follow-up's later reads compare the cluster
// with. answered is true when it already told the pull request why there
// is nothing to follow.
func (r *Runner) watchTarget(ctx context.Context, pub Publisher, q task, service string) (w watched, answered bool, err error) {
	ws, err := r.cloneDefault(ctx, q)
	if err != nil {
		return w, false, err
	}
	defer ws.Close()
	in, _, err := build.Load(ctx, ws.Dir())
	if err != nil {
		return w, true, r.comment(ctx, pub, q, "⚠️ kubewright could not read the merged manifests to follow the change up: "+safe(err))
	}
	w.ns, w.since = "default", time.Now()
	if nss := diagnose.RepoNamespaces(in, service); len(nss) > 0 {
		w.ns = nss[0]
	}
	if w.want = wantedWorkloads(in, service, w.ns); len(w.want) == 0 {
		return w, true, r.comment(ctx, pub, q, fmt.Sprintf("⚠️ The merged manifests define no Deployment of `%s` in `%s` to follow up.", service, w.ns))
	}
	return w, false, nil
}

// watched is what a follow-up compares the cluster with, kept between its
// reads so that each read is a few GETs, not a clone. Another replica
// that picks the job up reads the manifests again.
type watched struct {
	ns    string
	want  []wanted
	since time.Time // the first read
	until time.Time // when the entry is dropped, answered or not
}

// watchList holds the follow-ups of this process, at most maxWatched.
type watchList struct {
	mu sync.Mutex
	m  map[string]watched
}

const maxWatched = 1000

func (l *watchList) get(delivery string) (watched, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.m[delivery]
	if ok && time.Now().After(w.until) {
		delete(l.m, delivery)
		return watched{}, false
	}
	return w, ok
}

func (l *watchList) put(delivery string, w watched, timeout time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for d, x := range l.m {
		if now.After(x.until) || len(l.m) >= maxWatched {
			delete(l.m, d)
		}
	}
	w.until = now.Add(timeout + time.Minute)
	l.m[delivery] = w
}

func (l *watchList) drop(delivery string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, delivery)
}

// wanted is what the merged manifests say a workload runs.
type wanted struct {
	name     string
	replicas *int64 // nil: an autoscaler or the default decides
	images   []string
}

// wantedWorkloads are the service's Deployments in the rendered
// manifests, with their images and replicas.
func wantedWorkloads(in *validate.Input, service, ns string) []wanted {
	var out []wanted
	for _, o := range in.Objects {
		u := o.U
		if u.GetKind() != "Deployment" {
			continue
		}
		if u.GetName() != service && u.GetLabels()["app.kubernetes.io/name"] != service {
			continue
		}
		if got := u.GetNamespace(); got != "" && got != ns {
			continue
		}
		w := wanted{name: u.GetName()}
		spec, _ := u.Object["spec"].(map[string]any)
		switch n := spec["replicas"].(type) {
		case int64:
			w.replicas = &n
		case int:
			v := int64(n)
			w.replicas = &v
		case float64:
			v := int64(n)
			w.replicas = &v
		}
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			if m, ok := c.(map[string]any); ok {
				if img, ok := m["image"].(string); ok {
					w.images = append(w.images, img)
				}
			}
		}
		out = append(out, w)
	}
	return out
}

// rolledOut reads a Deployment: live when it runs the wanted images and
// replicas and every replica is updated and ready.
func (r *Runner) rolledOut(ctx context.Context, ns string, w wanted) (bool, string) {
	d, err := r.cluster.Kube.AppsV1().Deployments(ns).Get(ctx, w.name, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Sprintf("Deployment `%s`: %s", w.name, shortErr(err))
	}
	var images []string
	for _, c := range d.Spec.Template.Spec.Containers {
		images = append(images, c.Image)
	}
	spec := deref(d.Spec.Replicas)
	line := fmt.Sprintf("Deployment `%s`: %d of %d replicas ready and up to date; %s", w.name, min(d.Status.ReadyReplicas, d.Status.UpdatedReplicas), spec, codeList(images))
	switch {
	case !slices.Equal(images, w.images):
		return false, line + " (the cluster does not run the merged images yet)"
	case w.replicas != nil && int64(spec) != *w.replicas:
		return false, line + fmt.Sprintf(" (the merged manifests ask for %d)", *w.replicas)
	}
	return rolled(d), line
}

func rolled(d *appsv1.Deployment) bool {
	n := deref(d.Spec.Replicas)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == n && d.Status.ReadyReplicas == n && d.Status.AvailableReplicas == n
}

// codeList shows names in code spans, comma-separated.
func codeList(images []string) string {
	return "`" + strings.Join(images, "`, `") + "`"
}
