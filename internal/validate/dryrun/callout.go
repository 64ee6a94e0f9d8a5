package dryrun

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// On the throwaway server only CRDs and Namespaces are written for real;
// everything else is a dry-run. Some kinds would, once installed, make the
// server call out or change how it admits every later object. They are
// exactly the ones a job must never leave behind, and a reader may expect
// them to have taken part in checking the rest, so each gets an info
// finding saying it was only dry-run.
//
// Other kinds that influence admission (LimitRange, ResourceQuota,
// PriorityClass, IngressClass, StorageClass, RuntimeClass) are dry-run
// like any object, never call out, and get no finding.

// reportCallOut adds the info finding for an object of such a kind.
func (r *dryRunner) reportCallOut(o validate.Object) {
	gvk := o.U.GroupVersionKind()
	name := o.U.GetName()
	const only = "on the throwaway API server it was only dry-run, never installed"
	switch {
	case gvk.Group == "apiregistration.k8s.io" && gvk.Kind == "APIService":
		target := "the API server itself"
		if svc, ok, _ := unstructured.NestedMap(o.U.Object, "spec", "service"); ok && svc != nil {
			target = "service " + refName(svc)
		}
		group, _, _ := unstructured.NestedString(o.U.Object, "spec", "group")
		version, _, _ := unstructured.NestedString(o.U.Object, "spec", "version")
		r.report(o, "KW-DRYRUN-008", finding.Info, fmt.Sprintf("APIService %s would make the API server send every request for %s/%s to %s; %s, so the server never dials it",
			name, group, version, target, only), "nothing to fix here; the aggregated API runs only on a real cluster", "spec")
	case gvk.Group == "admissionregistration.k8s.io" && (gvk.Kind == "ValidatingWebhookConfiguration" || gvk.Kind == "MutatingWebhookConfiguration"):
		r.report(o, "KW-DRYRUN-008", finding.Info, fmt.Sprintf("%s %s would make the API server call its webhooks (%s) before admitting matching objects; %s, so no webhook was called and the other objects of this change were checked without it",
			gvk.Kind, name, webhookTargets(o.U), only), "nothing to fix here; the webhook runs only on a real cluster", "webhooks")
	case gvk.Group == "admissionregistration.k8s.io" && admissionPolicyKinds[gvk.Kind]:
		r.report(o, "KW-DRYRUN-009", finding.Info, fmt.Sprintf("%s %s would change how the API server admits the objects after it; %s, so the other objects of this change were checked without it and no later validation sees it",
			gvk.Kind, name, only), "nothing to fix here; the dry-run checked the object itself, test its effect on a real cluster", "spec")
	}
}

var admissionPolicyKinds = map[string]bool{
	"ValidatingAdmissionPolicy":        true,
	"ValidatingAdmissionPolicyBinding": true,
	"MutatingAdmissionPolicy":          true,
	"MutatingAdmissionPolicyBinding":   true,
}

// webhookTargets lists where a webhook configuration's webhooks point,
// at most three, without anything secret (see clientTarget).
func webhookTargets(u *unstructured.Unstructured) string {
	hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
	seen := map[string]bool{}
	for _, h := range hooks {
		hm, ok := h.(map[string]any)
		if !ok {
			continue
		}
		cc, _, _ := unstructured.NestedMap(hm, "clientConfig")
		svc, isSvc, _ := unstructured.NestedMap(cc, "service")
		var rawURL *string
		if s, ok, _ := unstructured.NestedString(cc, "url"); ok {
			rawURL = &s
		}
		seen[clientTarget(isSvc, refName(svc), rawURL)] = true
	}
	targets := sortedKeys(seen)
	switch {
	case len(targets) == 0:
		return "none listed"
	case len(targets) > 3:
		return fmt.Sprintf("%s and %d more", strings.Join(targets[:3], ", "), len(targets)-3)
	}
	return strings.Join(targets, ", ")
}

func refName(m map[string]any) string {
	ns, _, _ := unstructured.NestedString(m, "namespace")
	name, _, _ := unstructured.NestedString(m, "name")
	return ns + "/" + name
}
