package diagnose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// The figure for the note: a namespace of 50 Pods (10 Deployments of 5,
// each with its Service and EndpointSlice), 5 of them failing (3 crash in
// a loop, 1 cannot pull its image, 1 was OOMKilled), diagnosed whole and
// for one service, with the repository they came from.
const (
	benchNS        = "diag-fifty"
	benchWorkloads = 10
	benchReplicas  = 5
)

var fiftyOnce sync.Once

// fiftyPods builds the namespace once per test binary and returns the
// repository directory.
func fiftyPods(t testing.TB, te *testEnv) string {
	t.Helper()
	repo := filepath.Join(te.Dir, "fifty-repo")
	fiftyOnce.Do(func() {
		if err := buildFifty(te, repo); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(repo); err != nil {
		t.Fatalf("the 50-pod namespace was not built: %v", err)
	}
	return repo
}

func buildFifty(te *testEnv, repo string) error {
	ctx := context.Background()
	kube := kubernetes.NewForConfigOrDie(te.Config)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	files := map[string]string{"k8s/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"}
	for w := range benchWorkloads {
		name := fmt.Sprintf("svc-%02d", w)
		dep := benchDeployment(name)
		files["k8s/kustomization.yaml"] += "  - " + name + ".yaml\n"
		files["k8s/"+name+".yaml"] = benchManifest(name)
		d, err := kube.AppsV1().Deployments(benchNS).Create(ctx, dep, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		truth := true
		hash := fmt.Sprintf("%09x", 0x5f00000+w)
		rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + hash, Labels: map[string]string{"app": name, "pod-template-hash": hash},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: d.UID, Controller: &truth}}},
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name, "pod-template-hash": hash}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, "pod-template-hash": hash}}, Spec: dep.Spec.Template.Spec}}}
		rs, err = kube.AppsV1().ReplicaSets(benchNS).Create(ctx, rs, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}}}
		if _, err := kube.CoreV1().Services(benchNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return err
		}
		slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name + "-abcde", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
			AddressType: discoveryv1.AddressTypeIPv4}
		for i := range benchReplicas {
			pod := fmt.Sprintf("%s-%s-p%d", name, hash, i)
			p := benchPod(pod, name, hash, rs, w, i, dep.Spec.Template.Spec)
			if err := createPodErr(kube, p); err != nil {
				return err
			}
			ready := podReady(p)
			slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.244.2.%d", w*benchReplicas+i+1)},
				Conditions: discoveryv1.EndpointConditions{Ready: &ready}})
			if failingInBench(w, i) {
				te.Kubelet.SetLog(benchNS, pod, "app", true, "starting\nERROR cannot open /data/state.db: permission denied\n")
			}
		}
		if _, err := kube.DiscoveryV1().EndpointSlices(benchNS).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for f, content := range files {
		p := filepath.Join(repo, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// failingInBench: svc-03's first three Pods crash, svc-07's first cannot
// pull, svc-08's first was OOMKilled.
func failingInBench(w, i int) bool {
	return w == 3 && i < 3 || (w == 7 || w == 8) && i == 0
}

func benchDeployment(name string) *appsv1.Deployment {
	replicas := int32(benchReplicas)
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/acme/" + name + ":1.0.0",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}}}
}

func benchManifest(name string) string {
	return strings.ReplaceAll(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
spec:
  replicas: 5
  selector:
    matchLabels:
      app: NAME
  template:
    metadata:
      labels:
        app: NAME
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/NAME:1.0.0
          ports:
            - containerPort: 8080
          resources:
            limits:
              memory: 128Mi
---
apiVersion: v1
kind: Service
metadata:
  name: NAME
spec:
  selector:
    app: NAME
  ports:
    - name: http
      port: 80
      targetPort: 8080
`, "NAME", name)
}

func benchPod(pod, app, hash string, rs *appsv1.ReplicaSet, w, i int, spec corev1.PodSpec) *corev1.Pod {
	truth := true
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: benchNS, Labels: map[string]string{"app": app, "pod-template-hash": hash},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &truth}}},
		Spec: *spec.DeepCopy()}
	p.Spec.NodeName = nodeName
	st := corev1.ContainerStatus{Name: "app", Image: spec.Containers[0].Image, Ready: true, Started: &truth,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC))}}}
	ready := corev1.ConditionTrue
	switch {
	case w == 3 && i < 3:
		st = corev1.ContainerStatus{Name: "app", Image: spec.Containers[0].Image, RestartCount: 7,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}
		ready = corev1.ConditionFalse
	case w == 7 && i == 0:
		st = corev1.ContainerStatus{Name: "app", Image: spec.Containers[0].Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "ghcr.io/acme/svc-07:1.0.0": not found`}}}
		ready = corev1.ConditionFalse
	case w == 8 && i == 0:
		st = corev1.ContainerStatus{Name: "app", Image: spec.Containers[0].Image, RestartCount: 2,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}
		ready = corev1.ConditionFalse
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}},
		ContainerStatuses: []corev1.ContainerStatus{st}}
	return p
}

// TestFiftyPods measures the figure: the whole namespace and one service
// diagnosed in under 2 s each, every list made once, and the five failing
// Pods found.
func TestFiftyPods(t *testing.T) {
	te := sharedEnv(t)
	repo := fiftyPods(t, te)
	for _, service := range []string{"", "svc-03"} {
		cfg, ctr := te.CountingConfig()
		cl, err := NewCluster(cfg)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r, err := Diagnose(context.Background(), cl, benchNS, service, repo, WithFluxNamespace(""))
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		ls := lists(ctr.Requests())
		for p, n := range ls {
			if n > 1 {
				t.Errorf("%s listed %d times", p, n)
			}
		}
		logs := 0
		for _, req := range ctr.Requests() {
			if strings.Contains(req, "/log?") {
				logs++
			}
		}
		t.Logf("service %q: %v, %d API requests (%d lists, %d logs, the rest discovery), %d Pods, %d failing, %d findings",
			service, took.Round(time.Millisecond), len(ctr.Requests()), len(ls), logs, r.Stats.Pods, r.Stats.FailingPods, len(r.Findings))
		if int64(len(ctr.Requests())) != r.Stats.Requests {
			t.Errorf("Stats.Requests = %d, the transport saw %d", r.Stats.Requests, len(ctr.Requests()))
		}
		if took > 2*time.Second {
			t.Errorf("service %q: diagnosis took %v, the goal is under 2 s", service, took)
		}
		wantFailing := 5
		if service != "" {
			wantFailing = 3
		}
		if r.Stats.FailingPods != wantFailing {
			t.Errorf("service %q: %d failing Pods, want %d", service, r.Stats.FailingPods, wantFailing)
		}
		for _, f := range r.Findings {
			if f.File == "" {
				t.Errorf("not traced to the repository: %s", f.String())
			}
		}
	}
}

// BenchmarkDiagnoseFifty is TestFiftyPods' namespace diagnosis, with the
// API requests per diagnosis reported.
func BenchmarkDiagnoseFifty(b *testing.B) {
	te := sharedEnv(b)
	repo := fiftyPods(b, te)
	cl, err := NewCluster(te.Config)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Diagnose(context.Background(), cl, benchNS, "", repo, WithFluxNamespace("")); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cl.Requests())/float64(b.N), "requests/op")
}
