package schema

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kubewright/kubewright/internal/finding"
	"github.com/kubewright/kubewright/internal/validate"
)

// ---- required fields the decoder cannot see -------------------------------------

func (r *schemaRun) required(o validate.Object) {
	gvk := o.U.GroupVersionKind()
	m := o.U.Object
	missing := func(segs []string, what, hint string) {
		r.add(o, "KW-SCHEMA-003", finding.Error, segs, fmt.Sprintf("%s is required", what), hint)
	}
	var pod []string
	switch gvk.GroupKind().String() {
	case "Pod":
		pod = []string{"spec"}
	case "ReplicationController":
		pod = []string{"spec", "template", "spec"}
	case "Deployment.apps", "StatefulSet.apps", "DaemonSet.apps", "ReplicaSet.apps":
		for _, f := range []string{"selector", "template"} {
			if _, ok := schemaGet(m, "spec", f); !ok {
				missing([]string{"spec", f}, "spec."+f, fmt.Sprintf("add spec.%s to the %s", f, gvk.Kind))
			}
		}
		pod = []string{"spec", "template", "spec"}
	case "Job.batch":
		if _, ok := schemaGet(m, "spec", "template"); !ok {
			missing([]string{"spec", "template"}, "spec.template", "add the pod template to the Job")
		}
		pod = []string{"spec", "template", "spec"}
	case "CronJob.batch":
		for _, f := range []string{"schedule", "jobTemplate"} {
			if v, ok := schemaGet(m, "spec", f); !ok || v == "" {
				missing([]string{"spec", f}, "spec."+f, "add spec."+f+" to the CronJob")
			}
		}
		pod = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	case "Service":
		ports, _ := schemaGet(m, "spec", "ports")
		l, _ := ports.([]any)
		for i, p := range l {
			pm, _ := p.(map[string]any)
			if n, _ := schemaNumber(pm["port"]); n == 0 {
				missing([]string{"spec", "ports", strconv.Itoa(i), "port"}, fmt.Sprintf("spec.ports[%d].port", i),
					"set the port the Service listens on (targetPort is the container's port)")
			}
		}
	case "Ingress.networking.k8s.io":
		if b, ok := schemaGet(m, "spec", "defaultBackend"); ok {
			r.ingressBackend(o, b, []string{"spec", "defaultBackend"})
		}
		rules, _ := schemaGet(m, "spec", "rules")
		rl, _ := rules.([]any)
		for i, rule := range rl {
			paths, _ := schemaGet(rule, "http", "paths")
			pl, _ := paths.([]any)
			for j, p := range pl {
				segs := []string{"spec", "rules", strconv.Itoa(i), "http", "paths", strconv.Itoa(j)}
				disp := fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j)
				if v, _ := schemaGet(p, "pathType"); v == nil || v == "" {
					missing(append(segs, "pathType"), disp+".pathType", "set pathType: Prefix, Exact or ImplementationSpecific")
				}
				b, ok := schemaGet(p, "backend")
				if !ok {
					missing(append(segs, "backend"), disp+".backend", "add backend.service.name and backend.service.port")
					continue
				}
				r.ingressBackend(o, b, append(segs, "backend"))
			}
		}
	}
	if pod == nil {
		return
	}
	for _, list := range []string{"initContainers", "containers"} {
		cs, _ := schemaGet(m, append(append([]string(nil), pod...), list)...)
		cl, _ := cs.([]any)
		if list == "containers" && len(cl) == 0 {
			if _, ok := schemaGet(m, pod...); ok || len(pod) == 1 {
				missing(append(append([]string(nil), pod...), "containers"), strings.Join(pod, ".")+".containers",
					"add at least one container")
			}
			continue
		}
		for i, c := range cl {
			segs := append(append([]string(nil), pod...), list, strconv.Itoa(i))
			disp := fmt.Sprintf("%s.%s[%d]", strings.Join(pod, "."), list, i)
			for _, f := range []string{"name", "image"} {
				if v, _ := schemaGet(c, f); v == nil || v == "" {
					hint := "give the container a name (a DNS-1123 label, unique in the pod)"
					if f == "image" {
						hint = "set the container image (registry/name:tag or @digest)"
					}
					missing(append(append([]string(nil), segs...), f), disp+"."+f, hint)
				}
			}
		}
	}
}

func (r *schemaRun) ingressBackend(o validate.Object, b any, segs []string) {
	disp := schemaDisplay(segs)
	if _, ok := schemaGet(b, "resource"); ok {
		return
	}
	add := func(s []string, what, hint string) {
		r.add(o, "KW-SCHEMA-003", finding.Error, s, what+" is required", hint)
	}
	svc, ok := schemaGet(b, "service")
	if !ok {
		add(append(append([]string(nil), segs...), "service"), disp+".service", "add service.name and service.port.number (or port.name)")
		return
	}
	ss := append(append([]string(nil), segs...), "service")
	if v, _ := schemaGet(svc, "name"); v == nil || v == "" {
		add(append(append([]string(nil), ss...), "name"), disp+".service.name", "name the Service that receives the traffic")
	}
	num, _ := schemaGet(svc, "port", "number")
	name, _ := schemaGet(svc, "port", "name")
	if n, _ := schemaNumber(num); n == 0 && (name == nil || name == "") {
		add(append(append([]string(nil), ss...), "port"), disp+".service.port", "set service.port.number or service.port.name")
	}
}
