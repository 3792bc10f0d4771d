package deploy_test

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const kubeDir = "kubernetes"

// serviceMonitor is the part of the Prometheus operator's ServiceMonitor
// (monitoring.coreos.com/v1) the manifests use; its Go types are not in
// k8s.io/api. Decoding strictly into it rejects any other field.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// kustomization is the part of kustomize's Kustomization the manifests use.
type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Namespace       string `json:"namespace,omitempty"`
	Labels          []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors,omitempty"`
		IncludeTemplates bool              `json:"includeTemplates,omitempty"`
	} `json:"labels,omitempty"`
	Resources []string `json:"resources"`
	Images    []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// kubeTypes maps apiVersion and kind to the Go type a manifest decodes into.
var kubeTypes = map[string]func() any{
	"v1/Namespace":                  func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                  func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                     func() any { return &corev1.Secret{} },
	"v1/Service":                    func() any { return &corev1.Service{} },
	"apps/v1/Deployment":            func() any { return &appsv1.Deployment{} },
	"batch/v1/Job":                  func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
	"monitoring.coreos.com/v1/ServiceMonitor":       func() any { return &serviceMonitor{} },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &kustomization{} },
}

// manifests decodes every YAML file under kubernetes/, each strictly into
// its kind's Go type, keyed by file name.
func manifests(t *testing.T) map[string][]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(kubeDir, "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", kubeDir, err)
	}
	out := map[string][]any{}
	for _, file := range files {
		for i, doc := range yamlDocuments(readFile(t, file)) {
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			newObj, ok := kubeTypes[tm.APIVersion+"/"+tm.Kind]
			if !ok {
				t.Fatalf("%s document %d: no Go type for %s %s", file, i, tm.APIVersion, tm.Kind)
			}
			obj := newObj()
			decodeStrict(t, fmt.Sprintf("%s document %d", file, i), doc, obj)
			out[filepath.Base(file)] = append(out[filepath.Base(file)], obj)
		}
	}
	return out
}

// only returns the single object of type T among the manifests.
func only[T any](t *testing.T, all map[string][]any) T {
	t.Helper()
	var found []T
	for _, objs := range all {
		for _, obj := range objs {
			if o, ok := obj.(T); ok {
				found = append(found, o)
			}
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want one %T among the manifests, found %d", zero, len(found))
	}
	return found[0]
}

func selects(selector map[string]string, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKustomization(t *testing.T) {
	t.Parallel()
	all := manifests(t)
	k := only[*kustomization](t, all)
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(kubeDir, r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}
	for file := range all {
		if file == "kustomization.yaml" || strings.HasSuffix(file, ".example.yaml") {
			continue
		}
		if !slices.Contains(k.Resources, file) {
			t.Errorf("%s is not in kustomization.yaml's resources", file)
		}
	}
	// Real secrets never come from this repository.
	for _, r := range k.Resources {
		for _, obj := range all[r] {
			if _, ok := obj.(*corev1.Secret); ok {
				t.Errorf("kustomization.yaml applies the Secret in %s", r)
			}
		}
	}
}

// checkPodSpec checks what both the workers and the migration need: a
// non-root user, a read-only root file system, no privileges, resource
// requests and limits, and secrets never written into the manifest.
func checkPodSpec(t *testing.T, what string, spec corev1.PodSpec, secret *corev1.Secret) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: the pod must run as a non-root user (runAsNonRoot and a non-zero runAsUser)", what)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: want the RuntimeDefault seccomp profile", what)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: regsync does not call the Kubernetes API: set automountServiceAccountToken: false", what)
	}
	secretVolumes := map[string]*corev1.SecretVolumeSource{}
	for _, v := range spec.Volumes {
		if v.Secret != nil {
			secretVolumes[v.Name] = v.Secret
		}
	}
	secretKeys := func(where, name, key string) {
		if name != secret.Name {
			t.Errorf("%s: %s reads Secret %q, the example is %q", what, where, name, secret.Name)
		} else if _, ok := secret.StringData[key]; !ok {
			t.Errorf("%s: %s reads key %q, which secret.example.yaml does not have", what, where, key)
		}
	}
	for _, v := range secretVolumes {
		for _, item := range v.Items {
			secretKeys("volume "+v.SecretName, v.SecretName, item.Key)
		}
	}
	if len(spec.Containers) == 0 {
		t.Fatalf("%s: no containers", what)
	}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		where := what + " container " + c.Name
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: want readOnlyRootFilesystem", where)
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: want allowPrivilegeEscalation: false", where)
		}
		if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s: want capabilities dropped: [ALL]", where)
		}
		if sc != nil && sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", where)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
			if req.IsZero() || lim.IsZero() {
				t.Errorf("%s: want a %s request and limit", where, r)
			} else if req.Cmp(lim) > 0 {
				t.Errorf("%s: %s request %s above its limit %s", where, r, req.String(), lim.String())
			}
		}
		if c.Image == "" {
			t.Errorf("%s: no image", where)
		}

		var names []string
		for _, e := range c.Env {
			names = append(names, e.Name)
			secretLike := e.Name == "DATABASE_URL" || strings.HasSuffix(e.Name, "_TOKEN") ||
				strings.HasSuffix(e.Name, "_KEY") || strings.HasSuffix(e.Name, "_PASSWORD")
			if secretLike && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
				t.Errorf("%s: %s must come from a Secret (secretKeyRef), not the manifest", where, e.Name)
			}
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				ref := e.ValueFrom.SecretKeyRef
				secretKeys(e.Name, ref.Name, ref.Key)
			}
			// A *_FILE variable names a file of a mounted Secret.
			if strings.HasSuffix(e.Name, "_FILE") {
				if !secretFileMounted(c, secretVolumes, e.Value) {
					t.Errorf("%s: %s=%s is not a file of a mounted Secret volume", where, e.Name, e.Value)
				}
			}
		}
		checkEnvNames(t, where, names)
	}
}

// secretFileMounted reports whether file is one of the items of a secret
// volume mounted in c.
func secretFileMounted(c corev1.Container, volumes map[string]*corev1.SecretVolumeSource, file string) bool {
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok || !m.ReadOnly {
			continue
		}
		rel, err := filepath.Rel(m.MountPath, file)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, item := range v.Items {
			if item.Path == rel {
				return true
			}
		}
	}
	return false
}

func containerPort(c corev1.Container, port intstr.IntOrString) (int32, bool) {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, e.ValueFrom == nil
		}
	}
	return "", false
}

func TestDeployment(t *testing.T) {
	t.Parallel()
	all := manifests(t)
	d := only[*appsv1.Deployment](t, all)
	secret := only[*corev1.Secret](t, all)
	spec := d.Spec.Template.Spec
	checkPodSpec(t, "Deployment", spec, secret)

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	if d.Spec.Selector == nil || !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("the selector does not select the pod template")
	}
	// serve gives running jobs 30 s and then 10 s more to cancel them.
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g <= 40 {
		t.Errorf("terminationGracePeriodSeconds %d, want more than the 40 s serve may take to stop", ptrValue(g))
	}
	// The image's user, which must be the one the pod runs as.
	if m := regexp.MustCompile(`(?m)^USER (\d+)`).FindSubmatch(readFile(t, "Dockerfile")); len(m) < 2 || string(m[1]) != fmt.Sprint(ptrValue(spec.SecurityContext.RunAsUser)) {
		t.Errorf("the Dockerfile's USER is not the pod's runAsUser %d", ptrValue(spec.SecurityContext.RunAsUser))
	}
	c := spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" || len(c.Command) != 0 {
		t.Errorf("container runs command %q args %q, want the image's regsync with args [serve]", c.Command, c.Args)
	}

	// The probes and Prometheus reach the port serve listens on, which
	// must not be the loopback default.
	addr, ok := envValue(c, "REGSYNC_HTTP_ADDR")
	if !ok {
		t.Fatalf("REGSYNC_HTTP_ADDR is not set: serve would listen on 127.0.0.1:9464, out of the probes' reach")
	}
	for _, probe := range []struct {
		name string
		p    *corev1.Probe
		path string
	}{
		{"livenessProbe", c.LivenessProbe, "/healthz"},
		{"readinessProbe", c.ReadinessProbe, "/readyz"},
		{"startupProbe", c.StartupProbe, "/healthz"},
	} {
		if probe.p == nil || probe.p.HTTPGet == nil {
			t.Errorf("%s: want an HTTP probe of %s", probe.name, probe.path)
			continue
		}
		if probe.p.HTTPGet.Path != probe.path {
			t.Errorf("%s: path %s, want %s", probe.name, probe.p.HTTPGet.Path, probe.path)
		}
		port, ok := containerPort(c, probe.p.HTTPGet.Port)
		if !ok {
			t.Errorf("%s: port %s is not a container port", probe.name, probe.p.HTTPGet.Port.String())
		}
		if want := fmt.Sprintf("0.0.0.0:%d", port); addr != want {
			t.Errorf("REGSYNC_HTTP_ADDR=%s, want %s for the %s", addr, want, probe.name)
		}
	}
	for _, name := range []string{"REGSYNC_HOSTUP_TOKEN_FILE", "REGSYNC_SECRET_KEY_FILE"} {
		if _, ok := envValue(c, name); !ok {
			t.Errorf("%s is not set", name)
		}
	}
	if _, plain := envValue(c, "DATABASE_URL"); plain {
		t.Errorf("DATABASE_URL must come from the Secret")
	}

	cm := only[*corev1.ConfigMap](t, all)
	var fromConfigMap bool
	for _, ef := range c.EnvFrom {
		fromConfigMap = fromConfigMap || (ef.ConfigMapRef != nil && ef.ConfigMapRef.Name == cm.Name)
	}
	if !fromConfigMap {
		t.Errorf("the container does not read the ConfigMap %s", cm.Name)
	}
	var keys []string
	for k := range cm.Data {
		keys = append(keys, k)
	}
	checkEnvNames(t, "ConfigMap", keys)
	if _, ok := cm.Data["REGSYNC_HTTP_ADDR"]; ok {
		t.Errorf("set REGSYNC_HTTP_ADDR next to the probes in the Deployment, not in the ConfigMap")
	}
}

func TestMigrationJob(t *testing.T) {
	t.Parallel()
	all := manifests(t)
	j := only[*batchv1.Job](t, all)
	spec := j.Spec.Template.Spec
	checkPodSpec(t, "Job", spec, only[*corev1.Secret](t, all))
	c := spec.Containers[0]
	if len(c.Args) != 1 || c.Args[0] != "migrate" {
		t.Errorf("Job runs args %q, want [migrate]", c.Args)
	}
	if _, ok := envValue(c, "DATABASE_URL"); ok {
		t.Errorf("DATABASE_URL must come from the Secret")
	}
	if spec.RestartPolicy != corev1.RestartPolicyOnFailure && spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s", spec.RestartPolicy)
	}
	if j.Spec.BackoffLimit == nil || j.Spec.ActiveDeadlineSeconds == nil {
		t.Errorf("want backoffLimit and activeDeadlineSeconds, so a failing migration ends")
	}
	// Migration pods are neither workers to the Service nor to the budget.
	svc := only[*corev1.Service](t, all)
	if selects(svc.Spec.Selector, j.Spec.Template.Labels) {
		t.Errorf("the Service selects the migration pods")
	}
	pdb := only[*policyv1.PodDisruptionBudget](t, all)
	if pdb.Spec.Selector != nil && selects(pdb.Spec.Selector.MatchLabels, j.Spec.Template.Labels) {
		t.Errorf("the PodDisruptionBudget selects the migration pods")
	}
}

func TestServiceAndMonitoring(t *testing.T) {
	t.Parallel()
	all := manifests(t)
	d := only[*appsv1.Deployment](t, all)
	svc := only[*corev1.Service](t, all)
	// Prometheus names the job after the Service; the alerts expect it.
	if svc.Name != "regsync" {
		t.Errorf("Service %s: the alert rules expect job=\"regsync\", the Service name", svc.Name)
	}
	if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("the Service does not select the Deployment's pods")
	}
	c := d.Spec.Template.Spec.Containers[0]
	var portNames []string
	for _, p := range svc.Spec.Ports {
		portNames = append(portNames, p.Name)
		if _, ok := containerPort(c, p.TargetPort); !ok {
			t.Errorf("Service port %s targets %s, not a container port", p.Name, p.TargetPort.String())
		}
	}
	ann := d.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod annotations %v: want prometheus.io/scrape and path", ann)
	}
	if port, ok := containerPort(c, intstr.Parse(ann["prometheus.io/port"])); !ok || fmt.Sprint(port) != ann["prometheus.io/port"] {
		t.Errorf("prometheus.io/port %q is not the container port", ann["prometheus.io/port"])
	}

	sm := only[*serviceMonitor](t, all)
	if !selects(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("the ServiceMonitor does not select the Service")
	}
	if sm.Spec.JobLabel != "" {
		t.Errorf("the ServiceMonitor sets jobLabel: the alerts expect the job named after the Service")
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("want one ServiceMonitor endpoint")
	}
	ep := sm.Spec.Endpoints[0]
	if !slices.Contains(portNames, ep.Port) || ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoint %+v: want a Service port and /metrics", ep)
	}

	pdb := only[*policyv1.PodDisruptionBudget](t, all)
	if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("the PodDisruptionBudget does not select the Deployment's pods")
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() >= int(*d.Spec.Replicas) {
		t.Errorf("the PodDisruptionBudget must keep a worker running")
	}

	ns := only[*corev1.Namespace](t, all)
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s: want the restricted Pod Security Standard enforced", ns.Name)
	}
	k := only[*kustomization](t, all)
	if k.Namespace != ns.Name {
		t.Errorf("kustomization namespace %q, Namespace %q", k.Namespace, ns.Name)
	}
	var images []string
	for _, img := range k.Images {
		images = append(images, img.Name)
	}
	for _, spec := range []corev1.PodSpec{d.Spec.Template.Spec, only[*batchv1.Job](t, all).Spec.Template.Spec} {
		for _, c := range spec.Containers {
			if !slices.Contains(images, path.Base(c.Image)) {
				t.Errorf("image %s is not set by kustomization.yaml's images", c.Image)
			}
		}
	}
}

// TestStrictDecodingCatchesTypos shows that a misspelled field fails.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	t.Parallel()
	var d appsv1.Deployment
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 2\n")
	if err := unmarshalStrict(bad, &d); err == nil {
		t.Errorf("a misspelled field decoded without error")
	}
	// encoding/json would take this one for readOnlyRootFilesystem.
	bad = []byte("securityContext:\n  readOnlyRootFileSystem: true\n")
	var c corev1.Container
	if err := unmarshalStrict(bad, &c); err == nil {
		t.Errorf("a field in the wrong case decoded without error")
	}
	bad = []byte("name: a\nname: b\n")
	if err := unmarshalStrict(bad, &c); err == nil {
		t.Errorf("a duplicate field decoded without error")
	}
	var q resource.Quantity
	if err := unmarshalStrict([]byte(`"512Mb"`), &q); err == nil {
		t.Errorf("a malformed quantity decoded without error")
	}
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
