package job

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/ops"
	"github.com/kubewright/kubewright/internal/publish"
	"github.com/kubewright/kubewright/internal/validate/build"
)

// investigateTimeout bounds the read-only look at the cluster before an
// operation: without an answer in time the plan says so and goes on.
const investigateTimeout = 30 * time.Second

// WithCluster gives the job read-only access to the cluster Flux applies
// the repository to: operations show the service's current state and
// `/ai diagnose` reads it. The identity needs only get, list and watch
// (deploy/base's kubewright-read ClusterRole).
func WithCluster(c diagnose.Cluster) Option { return func(r *Runner) { r.cluster = &c } }

// investigate reads the service's current state: its workloads'
// replicas and images, the autoscaler that owns them, and what is failing
// now (restarts, OOM kills, events), each traced to the repository at
// dir. It returns nil when no cluster is configured; what cannot be read
// becomes a note, never an error.
func (r *Runner) investigate(ctx context.Context, log *slog.Logger, repo *ops.Repo, service, dir string) *publish.ClusterState {
	if r.cluster == nil {
		return nil
	}
	defs, err := repo.Definitions(service)
	if err != nil {
		return nil
	}
	// Where the rendered manifests put the service: a kustomization's
	// namespace or a Flux Kustomization's targetNamespace count too.
	ns := "default"
	if in, _, err := build.Load(ctx, dir); err == nil {
		if nss := diagnose.RepoNamespaces(in, service); len(nss) > 0 {
			ns = nss[0]
		}
	}
	if ns == "default" {
		for _, d := range defs {
			if d.Namespace != "" {
				ns = d.Namespace
				break
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, investigateTimeout)
	defer cancel()
	st := &publish.ClusterState{Context: "Namespace " + ns + " of the configured cluster"}
	kube := r.cluster.Kube
	seen := map[string]bool{}
	for _, d := range defs {
		key := d.Kind + "/" + d.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		switch d.Kind {
		case "Deployment":
			dep, err := kube.AppsV1().Deployments(ns).Get(ctx, d.Name, metav1.GetOptions{})
			if err != nil {
				st.Notes = append(st.Notes, fmt.Sprintf("Deployment %s: %v", d.Name, shortErr(err)))
				continue
			}
			st.Lines = append(st.Lines, fmt.Sprintf("Deployment `%s`: %d replicas wanted, %d ready, %d up to date; %s",
				d.Name, deref(dep.Spec.Replicas), dep.Status.ReadyReplicas, dep.Status.UpdatedReplicas, images(dep.Spec.Template.Spec.Containers)))
		case "StatefulSet":
			sts, err := kube.AppsV1().StatefulSets(ns).Get(ctx, d.Name, metav1.GetOptions{})
			if err != nil {
				st.Notes = append(st.Notes, fmt.Sprintf("StatefulSet %s: %v", d.Name, shortErr(err)))
				continue
			}
			st.Lines = append(st.Lines, fmt.Sprintf("StatefulSet `%s`: %d replicas wanted, %d ready; %s",
				d.Name, deref(sts.Spec.Replicas), sts.Status.ReadyReplicas, images(sts.Spec.Template.Spec.Containers)))
		}
		hpas, err := kube.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			st.Notes = append(st.Notes, fmt.Sprintf("HorizontalPodAutoscalers: %v", shortErr(err)))
			continue
		}
		for _, h := range hpas.Items {
			if h.Spec.ScaleTargetRef.Kind == d.Kind && h.Spec.ScaleTargetRef.Name == d.Name {
				st.Lines = append(st.Lines, fmt.Sprintf("HorizontalPodAutoscaler `%s` owns the replicas: %d to %d, %d now, %d desired",
					h.Name, deref(h.Spec.MinReplicas), h.Spec.MaxReplicas, h.Status.CurrentReplicas, h.Status.DesiredReplicas))
			}
		}
	}
	rep, err := diagnose.Diagnose(ctx, *r.cluster, ns, service, dir)
	if err != nil {
		st.Notes = append(st.Notes, "Diagnosis: "+shortErr(err))
		return st
	}
	st.Lines = append(st.Lines, fmt.Sprintf("Pods: %d, %d of them failing", rep.Stats.Pods, rep.Stats.FailingPods))
	for _, f := range rep.Findings {
		st.Findings = append(st.Findings, f.Finding)
	}
	st.Notes = append(st.Notes, rep.Notes...)
	log.Info("investigated", "namespace", ns, "service", service, "findings", len(st.Findings), "errors", finding.AtLeast(st.Findings, finding.Error))
	return st
}

func deref(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// images lists the containers' images.
func images(cs []corev1.Container) string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("`%s` runs `%s`", c.Name, c.Image))
	}
	return strings.Join(out, ", ")
}

// shortErr is an API error's first line.
func shortErr(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}
