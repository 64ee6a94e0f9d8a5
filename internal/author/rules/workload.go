package rules

import (
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubewright/kubewright/internal/analyze"
)

const (
	// ingressControllerNS is where the nginx ingress controller runs (raw) and
	// where the Istio ingress gateway runs (gitops).
	ingressControllerNS = "ingress-nginx"
	istioIngressNS      = "istio-ingress"
)

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func (sys *system) namespaceObject(name string, f flavor) *corev1.Namespace {
	l := map[string]string{labelPartOf: sys.m.Name, labelManaged: managedByName}
	if f == flavorGitops {
		l["istio-injection"] = "enabled"
	}
	return &corev1.Namespace{TypeMeta: typeMeta("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

func (sys *system) configMap(s analyze.Service, w wiring) *corev1.ConfigMap {
	if len(w.config) == 0 {
		return nil
	}
	return &corev1.ConfigMap{
		TypeMeta:   typeMeta("v1", "ConfigMap"),
		ObjectMeta: metav1.ObjectMeta{Name: s.Name + "-config", Namespace: sys.namespace(s.Name), Labels: sys.labels(s.Name, component(s))},
		Data:       w.config,
	}
}

func component(s analyze.Service) string {
	if s.Port == 0 {
		return "worker"
	}
	return "api"
}

func replicas(s analyze.Service) int32 {
	if s.Port == 0 {
		return 1
	}
	return 2
}

// portName names a service's port by its protocol: Istio and other
// meshes read the protocol from the name ("grpc" is HTTP/2).
func portName(s analyze.Service) string {
	if s.GRPC {
		return "grpc"
	}
	return "http"
}

// servicePort is the port of a service's Service: 80 for HTTP, the
// container's own port for gRPC (clients name it in host:port addresses).
func servicePort(s analyze.Service) int {
	if s.GRPC && s.Port > 0 {
		return s.Port
	}
	return 80
}

// Ephemeral storage: what a container may write outside its volumes
// (logs, the writable layer) plus its emptyDir volumes.
const (
	ephemeralRequest = "128Mi"
	ephemeralLimit   = "1Gi"
	// scratchSize caps each emptyDir (/tmp and the stores' run directories).
	scratchSize = "256Mi"
)

// resourcesFor sizes a container by runtime: JVMs need the most memory at
// start, Go the least. Limits leave headroom over requests.
func resourcesFor(lang string) corev1.ResourceRequirements {
	req, lim := [2]string{"100m", "128Mi"}, [2]string{"500m", "512Mi"}
	switch lang {
	case analyze.LangGo, analyze.LangRust, analyze.LangStatic:
		req, lim = [2]string{"50m", "64Mi"}, [2]string{"500m", "256Mi"}
	case analyze.LangJava, analyze.LangKotlin:
		req, lim = [2]string{"250m", "512Mi"}, [2]string{"1", "1Gi"}
	case analyze.LangCSharp, langFSharp:
		req, lim = [2]string{"100m", "256Mi"}, [2]string{"1", "512Mi"}
	}
	return resources(req, lim)
}

// resources builds requests and limits of cpu and memory, with the
// ephemeral storage every container gets.
func resources(req, lim [2]string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(req[0]), corev1.ResourceMemory: resource.MustParse(req[1]),
			corev1.ResourceEphemeralStorage: resource.MustParse(ephemeralRequest)},
		Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(lim[0]), corev1.ResourceMemory: resource.MustParse(lim[1]),
			corev1.ResourceEphemeralStorage: resource.MustParse(ephemeralLimit)},
	}
}

// hardenedPod returns the restricted-profile security settings for a pod
// running as uid, and the container-level counterpart.
func hardenedPod(uid int64) (*corev1.PodSecurityContext, *corev1.SecurityContext) {
	pod := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr(true),
		RunAsUser:      ptr(uid),
		RunAsGroup:     ptr(uid),
		FSGroup:        ptr(uid),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	ctr := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		ReadOnlyRootFilesystem:   ptr(true),
		RunAsNonRoot:             ptr(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	return pod, ctr
}

func emptyDir(name, path string) (corev1.Volume, corev1.VolumeMount) {
	size := resource.MustParse(scratchSize)
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &size}}},
		corev1.VolumeMount{Name: name, MountPath: path}
}

func (sys *system) deployment(s analyze.Service, w wiring, image string) *appsv1.Deployment {
	podSec, ctrSec := hardenedPod(sys.uid[s.Name])
	tmpVol, tmpMount := emptyDir("tmp", "/tmp")
	ctr := corev1.Container{
		Name:  s.Name,
		Image: image,
		// Tags move (Flux bumps them, a registry can re-push one): Always
		// resolves the tag to its current digest on every start, and
		// checks the pull secret, at the cost of one registry request;
		// unchanged layers come from the node's cache.
		ImagePullPolicy: corev1.PullAlways,
		Env:             w.env,
		Resources:       resourcesFor(s.Language),
		SecurityContext: ctrSec,
		VolumeMounts:    []corev1.VolumeMount{tmpMount},
	}
	if len(w.config) > 0 {
		ctr.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: s.Name + "-config"}}}}
	}
	if s.Port > 0 {
		ctr.Ports = []corev1.ContainerPort{{Name: portName(s), ContainerPort: int32(s.Port), Protocol: corev1.ProtocolTCP}}
		ctr.ReadinessProbe, ctr.LivenessProbe, ctr.StartupProbe = sys.probes(s)
	}
	labels := sys.labels(s.Name, component(s))
	return &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: sys.namespace(s.Name), Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas:             ptr(replicas(s)),
			RevisionHistoryLimit: ptr(int32(5)),
			Selector:             &metav1.LabelSelector{MatchLabels: selector(s.Name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr(false),
					SecurityContext:              podSec,
					Containers:                   []corev1.Container{ctr},
					Volumes:                      []corev1.Volume{tmpVol},
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.ScheduleAnyway,
						LabelSelector: &metav1.LabelSelector{MatchLabels: selector(s.Name)},
					}},
				},
			},
		},
	}
}

func (sys *system) service(s analyze.Service) *corev1.Service {
	if s.Port == 0 {
		return nil
	}
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: sys.namespace(s.Name), Labels: sys.labels(s.Name, component(s))},
		Spec: corev1.ServiceSpec{
			Selector: selector(s.Name),
			Ports:    []corev1.ServicePort{servicePortOf(s)},
		},
	}
}

func servicePortOf(s analyze.Service) corev1.ServicePort {
	p := corev1.ServicePort{Name: portName(s), Port: int32(servicePort(s)), TargetPort: intstr.FromString(portName(s)), Protocol: corev1.ProtocolTCP}
	if s.GRPC {
		p.AppProtocol = ptr("grpc")
	}
	return p
}

// callers returns the services that call s, sorted.
func (sys *system) callers(name string) []string {
	var out []string
	for _, o := range sys.all {
		for _, c := range o.Calls {
			if c == name {
				out = append(out, o.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// peer allows traffic from the pods named name in that service's namespace.
func (sys *system) peer(name string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": sys.namespace(name)}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: selector(name)},
	}
}

func nsPeer(ns string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}}
}

// networkPolicy admits traffic to a workload only from the given peers, on
// its port. A workload with no port admits nothing.
func (sys *system) networkPolicy(name, ns string, labels map[string]string, port int, from []networkingv1.NetworkPolicyPeer) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta("networking.k8s.io/v1", "NetworkPolicy"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selector(name)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{},
		},
	}
	if port > 0 && len(from) > 0 {
		p := intstr.FromInt32(int32(port))
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
			From:  from,
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr(corev1.ProtocolTCP), Port: &p}},
		})
	}
	return np
}

func (sys *system) serviceNetworkPolicy(s analyze.Service, f flavor) *networkingv1.NetworkPolicy {
	var from []networkingv1.NetworkPolicyPeer
	for _, c := range sys.callers(s.Name) {
		from = append(from, sys.peer(c))
	}
	if s.UserFacing {
		if f == flavorGitops {
			from = append(from, nsPeer(istioIngressNS))
		} else {
			from = append(from, nsPeer(ingressControllerNS))
		}
	}
	return sys.networkPolicy(s.Name, sys.namespace(s.Name), sys.labels(s.Name, component(s)), s.Port, from)
}

func (sys *system) pdb(s analyze.Service) *policyv1.PodDisruptionBudget {
	if replicas(s) < 2 {
		return nil
	}
	one := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   typeMeta("policy/v1", "PodDisruptionBudget"),
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: sys.namespace(s.Name), Labels: sys.labels(s.Name, component(s))},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: selector(s.Name)}},
	}
}

func (sys *system) host(s analyze.Service) string { return s.Name + "." + sys.opts.IngressHost }

func (sys *system) ingress(s analyze.Service) *networkingv1.Ingress {
	if !s.UserFacing || s.Port == 0 {
		return nil
	}
	pt := networkingv1.PathTypePrefix
	meta := metav1.ObjectMeta{Name: s.Name, Namespace: sys.namespace(s.Name), Labels: sys.labels(s.Name, component(s))}
	if s.GRPC && sys.opts.IngressClass == "nginx" {
		// ingress-nginx speaks HTTP/1.1 to backends unless told otherwise.
		meta.Annotations = map[string]string{"nginx.ingress.kubernetes.io/backend-protocol": "GRPC"}
	}
	return &networkingv1.Ingress{
		TypeMeta:   typeMeta("networking.k8s.io/v1", "Ingress"),
		ObjectMeta: meta,
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr(sys.opts.IngressClass),
			Rules: []networkingv1.IngressRule{{
				Host: sys.host(s),
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: &pt,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: s.Name, Port: networkingv1.ServiceBackendPort{Name: portName(s)}}},
				}}}},
			}},
		},
	}
}
