package check

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// manifests is every object of a set of manifest files, decoded strictly.
type manifests struct {
	configMaps map[string]*corev1.ConfigMap // by namespace/name
	pods       map[string]*corev1.PodTemplateSpec
	objects    []string // kind/namespace/name, to spot duplicates
}

// docSep splits a multi-document YAML stream.
var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decodeManifests decodes every document of every file strictly into its
// k8s.io/api type: an unknown kind, apiVersion or field is an error.
func decodeManifests(files map[string][]byte) (*manifests, []error) {
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}, pods: map[string]*corev1.PodTemplateSpec{}}
	var errs []error
	seen := map[string]bool{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		for i, doc := range docSep.Split(string(files[name]), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			where := fmt.Sprintf("%s document %d", name, i+1)
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
				continue
			}
			var obj interface {
				GetName() string
				GetNamespace() string
			}
			var pod *corev1.PodTemplateSpec
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 Namespace":
				obj = &corev1.Namespace{}
			case "v1 ConfigMap":
				obj = &corev1.ConfigMap{}
			case "v1 Service":
				obj = &corev1.Service{}
			case "apps/v1 Deployment":
				d := &appsv1.Deployment{}
				obj, pod = d, &d.Spec.Template
			case "apps/v1 StatefulSet":
				s := &appsv1.StatefulSet{}
				obj, pod = s, &s.Spec.Template
			case "batch/v1 Job":
				j := &batchv1.Job{}
				obj, pod = j, &j.Spec.Template
			default:
				errs = append(errs, fmt.Errorf("%s: unsupported apiVersion/kind %q %q: add it to deploy/check", where, tm.APIVersion, tm.Kind))
				continue
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): strict decoding: %w", where, tm.Kind, err))
				continue
			}
			key := obj.GetNamespace() + "/" + obj.GetName()
			if obj.GetName() == "" {
				errs = append(errs, fmt.Errorf("%s (%s): metadata.name is empty", where, tm.Kind))
			}
			if tm.Kind != "Namespace" && obj.GetNamespace() == "" {
				errs = append(errs, fmt.Errorf("%s (%s %s): metadata.namespace is empty: name the namespace so kubectl apply does not use the current context's", where, tm.Kind, obj.GetName()))
			}
			if seen[tm.Kind+"/"+key] {
				errs = append(errs, fmt.Errorf("%s: %s %s is defined twice", where, tm.Kind, key))
			}
			seen[tm.Kind+"/"+key] = true
			m.objects = append(m.objects, tm.Kind+"/"+key)
			if cm, ok := obj.(*corev1.ConfigMap); ok {
				m.configMaps[key] = cm
			}
			if pod != nil {
				m.pods[tm.Kind+"/"+key] = pod
			}
		}
	}
	return m, errs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// checkPods checks every container of every pod template: runAsNonRoot (on
// the container or its pod), CPU and memory requests and limits, and every
// referenced ConfigMap defined in the manifests (with the referenced keys).
func (m *manifests) checkPods() []error {
	var errs []error
	keys := make([]string, 0, len(m.pods))
	for k := range m.pods {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		pod := m.pods[k]
		ns := k[strings.Index(k, "/")+1 : strings.LastIndex(k, "/")]
		podNonRoot := pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.RunAsNonRoot != nil && *pod.Spec.SecurityContext.RunAsNonRoot
		cms := func(name string, keys ...string) {
			cm, ok := m.configMaps[ns+"/"+name]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: ConfigMap %s/%s is referenced but not defined in deploy/k8s", k, ns, name))
				return
			}
			for _, key := range keys {
				if _, ok := cm.Data[key]; !ok {
					errs = append(errs, fmt.Errorf("%s: ConfigMap %s/%s has no key %q", k, ns, name, key))
				}
			}
		}
		for _, v := range pod.Spec.Volumes {
			if v.ConfigMap != nil {
				var items []string
				for _, it := range v.ConfigMap.Items {
					items = append(items, it.Key)
				}
				cms(v.ConfigMap.Name, items...)
			}
		}
		all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
		if len(pod.Spec.Containers) == 0 {
			errs = append(errs, fmt.Errorf("%s: no containers", k))
		}
		for _, c := range all {
			where := fmt.Sprintf("%s container %s", k, c.Name)
			nonRoot := podNonRoot
			if c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil {
				nonRoot = *c.SecurityContext.RunAsNonRoot
			}
			if !nonRoot {
				errs = append(errs, fmt.Errorf("%s: runAsNonRoot is not true (set securityContext.runAsNonRoot: true)", where))
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Requests[res]; !ok {
					errs = append(errs, fmt.Errorf("%s: resources.requests.%s is missing", where, res))
				}
				if _, ok := c.Resources.Limits[res]; !ok {
					errs = append(errs, fmt.Errorf("%s: resources.limits.%s is missing", where, res))
				}
			}
			if !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":latest") {
				errs = append(errs, fmt.Errorf("%s: image %q is not pinned by tag", where, c.Image))
			}
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					cms(e.ConfigMapRef.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
					cms(e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key)
				}
			}
		}
	}
	return errs
}

// checkServiceConfigs checks every data key of the ConfigMaps labelled
// liqstream.io/config: liqstream as `liqstream config check` does
// (checkConfigFile), with an empty environment.
func (m *manifests) checkServiceConfigs() []error {
	var errs []error
	for key, cm := range m.configMaps {
		kind, ok := cm.Labels["liqstream.io/config"]
		if !ok {
			continue
		}
		if len(cm.Data) == 0 {
			errs = append(errs, fmt.Errorf("ConfigMap %s: labelled %s config but has no data", key, kind))
		}
		for name, data := range cm.Data {
			where := fmt.Sprintf("ConfigMap %s key %s", key, name)
			var problems []error
			switch kind {
			case "liqstream":
				problems = checkConfigFile(name, []byte(data), func(string) (string, bool) { return "", false })
			default:
				problems = []error{fmt.Errorf("unknown liqstream.io/config %q (liqstream: the shared liqstream.yaml)", kind)}
			}
			for _, err := range problems {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
		}
	}
	return errs
}

func readManifests(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("../k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

func TestManifests(t *testing.T) {
	m, errs := decodeManifests(readManifests(t))
	errs = append(errs, m.checkPods()...)
	errs = append(errs, m.checkServiceConfigs()...)
	for _, err := range errs {
		t.Error(err)
	}
	// The layout deploy/README.md describes.
	for _, want := range []string{
		"Namespace//liqstream", "Job/liqstream/liqstream-migrate", "Deployment/liqstream/aggregator",
		"StatefulSet/liqstream/ingest-ethereum", "StatefulSet/liqstream/ingest-polygon", "StatefulSet/liqstream/ingest-avalanche",
		"StatefulSet/liqstream/ingest-arbitrum", "StatefulSet/liqstream/ingest-base", "Service/liqstream/aggregator-metrics",
	} {
		if !contains(m.objects, want) {
			t.Errorf("deploy/k8s defines no %s", want)
		}
	}
	if len(m.configMaps) == 0 {
		t.Error("no ConfigMaps: the service configs were not checked")
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestManifestCheckFails feeds bad manifests and expects each problem.
func TestManifestCheckFails(t *testing.T) {
	const pod = `apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: ns}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      securityContext: {runAsNonRoot: %s}
      containers:
        - name: c
          image: x/y:1
          resources:
            requests: {cpu: 100m%s}
            limits: {cpu: 100m, memory: 1Gi}
      volumes:
        - name: config
          configMap: {name: %s}
`
	const cm = `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: ns, labels: {liqstream.io/config: %s}}
data:
  c.yaml: |
%s
`
	good := fmt.Sprintf(pod, "true", ", memory: 1Gi", "cfg")
	goodAgg := fmt.Sprintf(cm, "liqstream", "    kafka: {brokers: [k:9092]}\n    chains:\n      base: {rpc_urls: [\"http://x:1\"], from: \"2026-01-01\"}")
	tests := []struct {
		name, want string
		docs       []string
	}{
		{"unknown field", "unknown field", []string{strings.Replace(good, "image: x/y:1", "image: x/y:1\n          imagePullPolicyy: Always", 1), goodAgg}},
		{"unknown kind", "unsupported", []string{"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"}},
		{"root", "runAsNonRoot", []string{fmt.Sprintf(pod, "false", ", memory: 1Gi", "cfg"), goodAgg}},
		{"no memory request", "requests.memory", []string{fmt.Sprintf(pod, "true", "", "cfg"), goodAgg}},
		{"missing ConfigMap", "not defined", []string{fmt.Sprintf(pod, "true", ", memory: 1Gi", "nope"), goodAgg}},
		{"config unknown key", "aggregator.batchh: unknown key", []string{good, fmt.Sprintf(cm, "liqstream", "    aggregator: {batchh: {max_records: 1}}")}},
		{"config invalid", "kafka.group", []string{good, fmt.Sprintf(cm, "liqstream", "    aggregator: {kafka: {group: \"\"}}")}},
		{"ingest config invalid", "rpc_url", []string{good, fmt.Sprintf(cm, "liqstream", "    chains: {polygon: {from: \"2026-01-01\"}}")}},
		{"ingest unknown chain", "chains.nochain: unknown chain", []string{good, fmt.Sprintf(cm, "liqstream", "    chains: {nochain: {rpc_urls: [\"http://x:1\"], from: \"2026-01-01\"}}")}},
		{"old per-service format", "chain: unknown section", []string{good, fmt.Sprintf(cm, "liqstream", "    chain: polygon")}},
		{"unknown config kind", "unknown liqstream.io/config", []string{good, fmt.Sprintf(cm, "ingest", "    kafka: {}")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, errs := decodeManifests(map[string][]byte{"bad.yaml": []byte(strings.Join(tt.docs, "---\n"))})
			errs = append(errs, m.checkPods()...)
			errs = append(errs, m.checkServiceConfigs()...)
			if !strings.Contains(fmt.Sprint(errs), tt.want) {
				t.Fatalf("errors %v, want one mentioning %q", errs, tt.want)
			}
		})
	}
	m, errs := decodeManifests(map[string][]byte{"good.yaml": []byte(good + "---\n" + goodAgg)})
	errs = append(errs, m.checkPods()...)
	errs = append(errs, m.checkServiceConfigs()...)
	if len(errs) > 0 {
		t.Fatalf("good manifests: %v", errs)
	}
}
