package job_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v88/github"
	"github.com/riverqueue/river/rivertype"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubewright/kubewright/internal/diagnose"
	"github.com/kubewright/kubewright/internal/job"
)

// mergedEvent is the pull_request event of a closed pull request.
func mergedEvent(n int, merged bool, branch, headRepo string) []byte {
	payload, _ := json.Marshal(github.PullRequestEvent{
		Action: github.Ptr("closed"), Number: github.Ptr(n),
		PullRequest: &github.PullRequest{Number: github.Ptr(n), State: github.Ptr("closed"), Merged: github.Ptr(merged),
			Head: &github.PullRequestBranch{Ref: github.Ptr(branch), Repo: &github.Repository{FullName: github.Ptr(headRepo)}}},
		Repo: &github.Repository{Name: github.Ptr("shop"), FullName: github.Ptr("acme/shop"), DefaultBranch: github.Ptr("main"),
			Owner: &github.User{Login: github.Ptr("acme")}},
		Sender:       &github.User{Login: github.Ptr("octocat"), ID: github.Ptr(int64(9)), Type: github.Ptr("User")},
		Installation: &github.Installation{ID: github.Ptr(int64(installation))},
	})
	return payload
}

// notLive is the follow-up's answer when the change did not land within
// the test's 2 s.
var notLive = regexp.MustCompile("⚠️ The merged `scale` of `cart` is not live in `shop` [2-9]s after the merge")

// After kubewright's pull request for an operation is merged, the job
// watches the cluster until it runs what the default branch says, and
// says on the pull request whether the change is live, or what fails.
func TestFollowUpAfterMerge(t *testing.T) {
	te := cluster.Get(t)
	e := newEnvFrom(t, reviewRepo, "")
	cl, err := diagnose.NewCluster(te.Config)
	if err != nil {
		t.Fatal(err)
	}
	e.runner = e.rebuild(job.WithCluster(cl), job.WithFollowUp(job.FollowUp{Timeout: 2 * time.Second, Every: 100 * time.Millisecond}))

	kube := kubernetes.NewForConfigOrDie(te.Config)
	ctx := context.Background()
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	two := int32(2)
	labels := map[string]string{"app.kubernetes.io/name": "cart"}
	dep, err := kube.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "cart", Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "cart", Image: "ghcr.io/acme/cart:1.4.2"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady := func(ready int32) {
		t.Helper()
		dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: *dep.Spec.Replicas, UpdatedReplicas: *dep.Spec.Replicas, ReadyReplicas: ready, AvailableReplicas: ready}
		if dep, err = kube.AppsV1().Deployments("shop").UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	setReady(2)
	n := e.onNewIssue(t, "octocat", "/ai scale cart 3")
	branch := "kubewright/scale-cart-" + itoa(n)
	pr, ok := pullFor(e, branch)
	if !ok {
		t.Fatalf("no pull request; status: %s", e.lastComment())
	}
	// The merge: main now holds the branch's Deployment.
	e.push(t, "acme", "shop", "main", map[string]string{"k8s/cart/deployment.yaml": e.show(t, branch, "k8s/cart/deployment.yaml")})

	// The pull request shows the service as the cluster runs it now.
	for _, want := range []string{"## Current state", "Deployment `cart`: 2 replicas wanted, 2 ready", "`cart` runs `ghcr.io/acme/cart:1.4.2`"} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, pr.Body)
		}
	}
	// merge delivers the merge and runs the job as the queue would: again
	// after each snooze, until it ends; it returns the comment and how
	// many times the job was snoozed.
	merge := func() (string, int) {
		t.Helper()
		e.n++
		d, ok := deliver(t, "pull_request", fmt.Sprintf("merged-%d", e.n), mergedEvent(pr.Number, true, branch, "acme/shop"))
		if !ok {
			t.Fatal("intake dropped the merge of kubewright's pull request")
		}
		if e.runner.Exclusive(d) {
			t.Fatal("a follow-up must not hold the repository while it watches")
		}
		snoozes := 0
		for {
			err := e.runner.Handle(ctx, d)
			var snooze *rivertype.JobSnoozeError
			if !errors.As(err, &snooze) {
				if err != nil {
					t.Fatal(err)
				}
				return e.lastComment(), snoozes
			}
			if snooze.Duration <= 0 || snooze.Duration > 100*time.Millisecond {
				t.Fatalf("snoozed for %s, want at most the 100ms interval", snooze.Duration)
			}
			snoozes++
			time.Sleep(snooze.Duration)
		}
	}

	// Flux applies the merged change.
	three := int32(3)
	dep.Spec.Replicas = &three
	if dep, err = kube.AppsV1().Deployments("shop").Update(ctx, dep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	setReady(1)
	if got, snoozes := merge(); !notLive.MatchString(got) || !strings.Contains(got, "1 of 3 replicas ready") || snoozes < 2 {
		t.Errorf("not ready (after %d snoozes): %q", snoozes, got)
	}
	setReady(3)
	if got, snoozes := merge(); !strings.Contains(got, "✅ The merged `scale` of `cart` is live in `shop`") || !strings.Contains(got, "3 of 3 replicas ready") || snoozes != 0 {
		t.Errorf("ready (after %d snoozes): %q", snoozes, got)
	}

	// Intake follows up only kubewright's own operation branches, merged.
	for _, tc := range []struct {
		name           string
		merged         bool
		branch, source string
	}{
		{"closed unmerged", false, branch, "acme/shop"},
		{"not an operation's branch", true, "feature/scale-cart-1", "acme/shop"},
		{"a fork's branch of the same name", true, branch, "mallory/shop"},
	} {
		if _, ok := deliver(t, "pull_request", "x-"+tc.name, mergedEvent(pr.Number, tc.merged, tc.branch, tc.source)); ok {
			t.Errorf("%s: queued", tc.name)
		}
	}
}
