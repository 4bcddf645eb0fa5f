// Command chart-render renders a Helm chart as `helm template` does, and lints it as `helm lint`
// does, on a machine where the helm binary cannot be installed but Helm's template engine can:
// Go's text/template with the sprig function library, plus Helm's own functions (include, tpl,
// required, fail, toYaml, fromYaml, toJson, fromJson, lookup), partials (_*.tpl), values merged
// from values.yaml, -f files and --set flags, validation against values.schema.json, and the
// output Helm prints (`---\n# Source: CHART/templates/X.yaml`, sorted in Helm's install order).
//
// It follows Helm 3's pkg/engine, pkg/strvals, pkg/chartutil (coalesce, schema),
// pkg/releaseutil (manifest split and sort) and pkg/lint/rules. Built in GOPATH mode against
// Debian's packaged libraries (GO111MODULE=off GOPATH=/usr/share/gocode): see .ci/setup-host.sh
// and tools/chart-render/chart-template.mjs, which builds it on first use.
//
// Not covered: subcharts (charts/ and dependencies), toToml/fromToml, .Files.Glob/AsSecrets,
// hooks (printed as plain manifests), and lint's Kubernetes deprecation rule. The chart this
// repository ships uses none of them.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	"github.com/xeipuuv/gojsonschema"
	yaml2 "gopkg.in/yaml.v2"
	yaml3 "gopkg.in/yaml.v3"
)

// includeDepthMax bounds recursive include/tpl calls, as Helm's recursionMaxNums does.
const includeDepthMax = 1000

// kubeVersionDefault is what .Capabilities.KubeVersion reports without --kube-version (Helm
// reports the Kubernetes version of the client-go it was built with).
const kubeVersionDefault = "v1.31.0"

// lintReleaseName is the release name `helm lint` renders with.
const lintReleaseName = "test-release"

// apiVersionsDefault is the built-in part of .Capabilities.APIVersions.
var apiVersionsDefault = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1",
	"scheduling.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1",
	"apiextensions.k8s.io/v1", "admissionregistration.k8s.io/v1", "certificates.k8s.io/v1",
	"events.k8s.io/v1", "node.k8s.io/v1", "apiregistration.k8s.io/v1",
}

// installOrder is Helm's releaseutil.InstallOrder: manifests are printed in this order of kinds.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
}

type options struct {
	releaseName string
	chartDir    string
	namespace   string
	valueFiles  []string
	sets        []string
	setStrings  []string
	showOnly    []string
	kubeVersion string
	apiVersions []string
	isUpgrade   bool
	lint        bool
	notes       bool
	skipSchema  bool
}

const usage = `usage: chart-render [NAME] CHART [flags]
  Renders CHART (a chart directory) like "helm template NAME CHART".
  -f, --values FILE        values file, merged over values.yaml (repeatable; later wins)
      --set K=V[,K=V]      set values like helm (dotted keys, [N] indices, {a,b} lists, null removes)
      --set-string K=V     like --set, every value a string
  -n, --namespace NS       .Release.Namespace (default "default")
  -s, --show-only PATH     print only this template, e.g. templates/statefulset.yaml (repeatable)
      --kube-version V     .Capabilities.KubeVersion (default ` + kubeVersionDefault + `)
  -a, --api-versions GV    add to .Capabilities.APIVersions (repeatable)
      --release-name NAME  .Release.Name (default: NAME, else "release-name")
      --is-upgrade         .Release.IsUpgrade true, IsInstall false
      --skip-schema-validation
      --notes              print the rendered templates/NOTES.txt instead of the manifests
      --lint               lint the chart like "helm lint CHART" (with the values given)
`

func main() {
	opts, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n%s", err, usage)
		os.Exit(2)
	}
	if opts.lint {
		os.Exit(lint(opts, os.Stdout))
	}
	if err := renderChart(opts, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

func parseArgs(args []string) (options, error) {
	opts := options{namespace: "default"}
	var positionals []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, inline, hasInline := strings.Cut(arg, "=")
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positionals = append(positionals, arg)
			continue
		}
		if !hasInline {
			name = arg
		}
		value := func() (string, error) {
			if hasInline {
				return inline, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("flag %s needs a value", name)
			}
			i++
			return args[i], nil
		}
		var err error
		var v string
		switch name {
		case "-f", "--values":
			v, err = value()
			opts.valueFiles = append(opts.valueFiles, v)
		case "--set":
			v, err = value()
			opts.sets = append(opts.sets, v)
		case "--set-string":
			v, err = value()
			opts.setStrings = append(opts.setStrings, v)
		case "-n", "--namespace":
			opts.namespace, err = value()
		case "-s", "--show-only":
			v, err = value()
			opts.showOnly = append(opts.showOnly, v)
		case "--kube-version":
			opts.kubeVersion, err = value()
		case "-a", "--api-versions":
			v, err = value()
			opts.apiVersions = append(opts.apiVersions, strings.Split(v, ",")...)
		case "--release-name":
			opts.releaseName, err = value()
		case "--is-upgrade":
			opts.isUpgrade = true
		case "--skip-schema-validation":
			opts.skipSchema = true
		case "--notes":
			opts.notes = true
		case "--lint":
			opts.lint = true
		case "-h", "--help":
			fmt.Print(usage)
			os.Exit(0)
		default:
			return opts, fmt.Errorf("unknown flag %s", arg)
		}
		if err != nil {
			return opts, err
		}
	}
	switch len(positionals) {
	case 1:
		opts.chartDir = positionals[0]
	case 2:
		if opts.releaseName == "" {
			opts.releaseName = positionals[0]
		}
		opts.chartDir = positionals[1]
	default:
		return opts, fmt.Errorf("expected [NAME] CHART, got %d arguments", len(positionals))
	}
	if opts.releaseName == "" {
		opts.releaseName = "release-name"
	}
	return opts, nil
}

// ---- chart loading --------------------------------------------------------------------------

type chartFile struct {
	name string // relative to the chart directory, slash-separated
	data []byte
}

type loadedChart struct {
	dir       string
	metadata  map[string]interface{} // Chart.yaml as parsed
	values    map[string]interface{} // values.yaml
	schema    []byte                 // values.schema.json, nil when absent
	templates []chartFile
	files     map[string][]byte // every other file, for .Files
}

func (c *loadedChart) name() string {
	name, _ := c.metadata["name"].(string)
	return name
}

func loadChart(dir string) (*loadedChart, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a chart directory (packaged charts are not supported)", dir)
	}
	chart := &loadedChart{dir: dir, files: map[string][]byte{}}
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("Chart.yaml file is missing: %w", err)
	}
	if chart.metadata, err = parseYAMLMap(raw); err != nil {
		return nil, fmt.Errorf("cannot load Chart.yaml: %w", err)
	}
	if chart.name() == "" {
		return nil, errors.New("validation: chart.metadata.name is required")
	}
	chart.values = map[string]interface{}{}
	if raw, err := os.ReadFile(filepath.Join(dir, "values.yaml")); err == nil {
		if chart.values, err = parseYAMLMap(raw); err != nil {
			return nil, fmt.Errorf("cannot load values.yaml: %w", err)
		}
	}
	if raw, err := os.ReadFile(filepath.Join(dir, "values.schema.json")); err == nil {
		chart.schema = raw
	}
	err = filepath.Walk(dir, func(file string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, file)
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			if rel == "charts" {
				return errors.New("subcharts (charts/) are not supported by chart-render")
			}
			return nil
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			chart.templates = append(chart.templates, chartFile{name: rel, data: data})
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json" || rel == "Chart.lock":
		default:
			chart.files[rel] = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return chart, nil
}

// ---- values ---------------------------------------------------------------------------------

// parseYAMLMap reads YAML the way Helm does (sigs.k8s.io/yaml: YAML 1.1 by yaml.v2, then JSON),
// so that numbers are float64 and `yes` is a boolean, exactly as templates see them under Helm.
func parseYAMLMap(raw []byte) (map[string]interface{}, error) {
	var parsed interface{}
	if err := yaml2.Unmarshal(raw, &parsed); err != nil {
		return nil, err
	}
	if parsed == nil {
		return map[string]interface{}{}, nil
	}
	converted, err := jsonRoundTrip(stringKeys(parsed))
	if err != nil {
		return nil, err
	}
	result, ok := converted.(map[string]interface{})
	if !ok {
		return nil, errors.New("the document is not a map")
	}
	return result, nil
}

// stringKeys turns yaml.v2's map[interface{}]interface{} into map[string]interface{}.
func stringKeys(value interface{}) interface{} {
	switch typed := value.(type) {
	case map[interface{}]interface{}:
		result := make(map[string]interface{}, len(typed))
		for key, item := range typed {
			result[fmt.Sprint(key)] = stringKeys(item)
		}
		return result
	case []interface{}:
		result := make([]interface{}, len(typed))
		for i, item := range typed {
			result[i] = stringKeys(item)
		}
		return result
	default:
		return value
	}
}

func jsonRoundTrip(value interface{}) (interface{}, error) {
	encoded, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	var decoded interface{}
	err = json.Unmarshal(encoded, &decoded)
	return decoded, err
}

// userValues merges -f files, then --set, then --set-string, as Helm's values.Options does.
func userValues(opts options) (map[string]interface{}, error) {
	base := map[string]interface{}{}
	for _, file := range opts.valueFiles {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		current, err := parseYAMLMap(raw)
		if err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", file, err)
		}
		base = mergeMaps(base, current)
	}
	for _, set := range opts.sets {
		if err := parseSet(set, base, false); err != nil {
			return nil, fmt.Errorf("failed parsing --set data: %w", err)
		}
	}
	for _, set := range opts.setStrings {
		if err := parseSet(set, base, true); err != nil {
			return nil, fmt.Errorf("failed parsing --set-string data: %w", err)
		}
	}
	return base, nil
}

// mergeMaps is Helm's values-file merge: b wins, nested maps merge.
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if inner, ok := v.(map[string]interface{}); ok {
			if existing, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(existing, inner)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce lays user values over the chart's defaults; a user null removes a default (Helm's
// chartutil.CoalesceValues for a chart without subcharts).
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range user {
		if v == nil {
			delete(out, k)
			continue
		}
		userMap, userIsMap := v.(map[string]interface{})
		defaultMap, defaultIsMap := out[k].(map[string]interface{})
		switch {
		case userIsMap && defaultIsMap:
			out[k] = coalesce(userMap, defaultMap)
		case defaultIsMap && !userIsMap:
			fmt.Fprintf(os.Stderr, "warning: destination for %s is a table. Ignoring non-table value (%v)\n", k, v)
		default:
			out[k] = v
		}
	}
	return out
}

// parseSet applies one --set argument to dest, following Helm's strvals: `a.b=c,d[0]=e`,
// `list={x,y}`, `\,` and `\.` escapes; "true"/"false" are booleans, "null" removes, integers
// without a leading zero are int64, anything else a string (every value with --set-string).
func parseSet(text string, dest map[string]interface{}, stringOnly bool) error {
	for _, pair := range splitUnescaped(text, ',', true) {
		if pair == "" {
			continue
		}
		keyText, valueText, found := cutUnescaped(pair, '=')
		if !found {
			return fmt.Errorf("key %q has no value", pair)
		}
		var value interface{}
		if !stringOnly && strings.HasPrefix(valueText, "{") && strings.HasSuffix(valueText, "}") {
			items := []interface{}{}
			inner := valueText[1 : len(valueText)-1]
			if inner != "" {
				for _, item := range splitUnescaped(inner, ',', false) {
					items = append(items, typedValue(unescape(item), false))
				}
			}
			value = items
		} else {
			value = typedValue(unescape(valueText), stringOnly)
		}
		if err := setPath(dest, splitUnescaped(keyText, '.', false), value); err != nil {
			return fmt.Errorf("key %q: %w", keyText, err)
		}
	}
	return nil
}

func typedValue(text string, stringOnly bool) interface{} {
	if stringOnly {
		return text
	}
	switch {
	case strings.EqualFold(text, "true"):
		return true
	case strings.EqualFold(text, "false"):
		return false
	case strings.EqualFold(text, "null"):
		return nil
	case text == "0":
		return int64(0)
	}
	if text != "" && text[0] != '0' {
		if number, err := strconv.ParseInt(text, 10, 64); err == nil {
			return number
		}
	}
	return text
}

var indexPattern = regexp.MustCompile(`^(.*?)\[(\d+)\]$`)

func setPath(dest map[string]interface{}, keys []string, value interface{}) error {
	key := unescape(keys[0])
	last := len(keys) == 1
	if match := indexPattern.FindStringSubmatch(key); match != nil {
		index, _ := strconv.Atoi(match[2])
		if index > 65536 {
			return fmt.Errorf("index %d is too large", index)
		}
		list, _ := dest[match[1]].([]interface{})
		for len(list) <= index {
			list = append(list, nil)
		}
		if last {
			list[index] = value
		} else {
			inner, ok := list[index].(map[string]interface{})
			if !ok {
				inner = map[string]interface{}{}
			}
			if err := setPath(inner, keys[1:], value); err != nil {
				return err
			}
			list[index] = inner
		}
		dest[match[1]] = list
		return nil
	}
	if last {
		dest[key] = value
		return nil
	}
	inner, ok := dest[key].(map[string]interface{})
	if !ok {
		inner = map[string]interface{}{}
	}
	dest[key] = inner
	return setPath(inner, keys[1:], value)
}

// splitUnescaped splits on sep, not after a backslash; with braces, not inside {...} either.
func splitUnescaped(text string, sep byte, braces bool) []string {
	var parts []string
	var current strings.Builder
	depth := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\' && i+1 < len(text):
			current.WriteByte(c)
			current.WriteByte(text[i+1])
			i++
			continue
		case braces && c == '{':
			depth++
		case braces && c == '}' && depth > 0:
			depth--
		case c == sep && depth == 0:
			parts = append(parts, current.String())
			current.Reset()
			continue
		}
		current.WriteByte(c)
	}
	return append(parts, current.String())
}

func cutUnescaped(text string, sep byte) (string, string, bool) {
	for i := 0; i < len(text); i++ {
		if text[i] == '\\' {
			i++
			continue
		}
		if text[i] == sep {
			return text[:i], text[i+1:], true
		}
	}
	return text, "", false
}

func unescape(text string) string {
	var out strings.Builder
	for i := 0; i < len(text); i++ {
		if text[i] == '\\' && i+1 < len(text) {
			i++
		}
		out.WriteByte(text[i])
	}
	return out.String()
}

// validateSchema checks the coalesced values against values.schema.json with Helm's message.
func validateSchema(chart *loadedChart, values map[string]interface{}) error {
	if len(chart.schema) == 0 {
		return nil
	}
	result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(chart.schema), gojsonschema.NewGoLoader(values))
	if err != nil {
		return fmt.Errorf("values.schema.json: %w", err)
	}
	if result.Valid() {
		return nil
	}
	var message strings.Builder
	fmt.Fprintf(&message, "values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n", chart.name())
	for _, problem := range result.Errors() {
		fmt.Fprintf(&message, "- %s\n", problem)
	}
	return errors.New(message.String())
}

// ---- the template engine --------------------------------------------------------------------

type kubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k kubeVersion) String() string     { return k.Version }
func (k kubeVersion) GitVersion() string { return k.Version }

type versionSet []string

// Has is what templates call: `.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"`.
func (v versionSet) Has(apiVersion string) bool {
	for _, item := range v {
		if item == apiVersion {
			return true
		}
	}
	return false
}

type capabilities struct {
	KubeVersion kubeVersion
	APIVersions versionSet
	HelmVersion map[string]string
}

func newCapabilities(opts options) (capabilities, error) {
	version := opts.kubeVersion
	if version == "" {
		version = kubeVersionDefault
	}
	parsed, err := semver.NewVersion(version)
	if err != nil {
		return capabilities{}, fmt.Errorf("invalid kube version %q: %w", version, err)
	}
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	apiVersions := append(versionSet{}, apiVersionsDefault...)
	apiVersions = append(apiVersions, opts.apiVersions...)
	return capabilities{
		KubeVersion: kubeVersion{Version: version, Major: strconv.FormatUint(parsed.Major(), 10), Minor: strconv.FormatUint(parsed.Minor(), 10)},
		APIVersions: apiVersions,
		HelmVersion: map[string]string{"Version": "v3-compatible (chart-render)"},
	}, nil
}

// files is .Files: the chart's non-template files.
type files map[string][]byte

func (f files) Get(name string) string      { return string(f[name]) }
func (f files) GetBytes(name string) []byte { return f[name] }
func (f files) Lines(name string) []string {
	if f[name] == nil {
		return []string{}
	}
	return strings.Split(strings.TrimRight(string(f[name]), "\n"), "\n")
}

// chartMetadata is .Chart: Chart.yaml's keys under the field names of Helm's chart.Metadata.
func chartMetadata(raw map[string]interface{}) map[string]interface{} {
	fieldNames := map[string]string{
		"apiVersion": "APIVersion", "appVersion": "AppVersion", "kubeVersion": "KubeVersion",
		"url": "URL", "email": "Email",
	}
	var convert func(value interface{}) interface{}
	convert = func(value interface{}) interface{} {
		switch typed := value.(type) {
		case map[string]interface{}:
			result := make(map[string]interface{}, len(typed))
			for key, item := range typed {
				name, ok := fieldNames[key]
				if !ok && key != "" {
					name = strings.ToUpper(key[:1]) + key[1:]
				}
				// Annotations keep their keys as written.
				if key == "annotations" {
					result[name] = item
					continue
				}
				result[name] = convert(item)
			}
			return result
		case []interface{}:
			result := make([]interface{}, len(typed))
			for i, item := range typed {
				result[i] = convert(item)
			}
			return result
		default:
			return value
		}
	}
	metadata := convert(raw).(map[string]interface{})
	metadata["IsRoot"] = true
	return metadata
}

type releaseInfo struct {
	Name      string
	Namespace string
	Service   string
	IsInstall bool
	IsUpgrade bool
	Revision  int
}

// warnWrap marks messages of required and fail so that the error shows them alone, as Helm's does.
const warnStart, warnEnd = "HELM_ERR_START", "HELM_ERR_END"

var warnPattern = regexp.MustCompile(warnStart + `((?s).*)` + warnEnd)

func funcMap(t *template.Template, lintMode bool) template.FuncMap {
	functions := sprig.TxtFuncMap()
	delete(functions, "env")
	delete(functions, "expandenv")
	includedNames := map[string]int{}
	extra := template.FuncMap{
		"toYaml":        toYAML,
		"mustToYaml":    mustToYAML,
		"toYamlPretty":  toYAMLPretty,
		"fromYaml":      fromYAML,
		"fromYamlArray": fromYAMLArray,
		"toJson":        toJSON,
		"mustToJson":    mustToJSON,
		"fromJson":      fromJSON,
		"fromJsonArray": fromJSONArray,
		"include":       includeFunc(t, includedNames),
		"tpl":           tplFunc(t, includedNames),
		"required": func(message string, value interface{}) (interface{}, error) {
			if text, isString := value.(string); value == nil || (isString && text == "") {
				if lintMode {
					fmt.Fprintf(os.Stderr, "[WARNING] missing required value: %s\n", message)
					return "", nil
				}
				return value, errors.New(warnStart + message + warnEnd)
			}
			return value, nil
		},
		"fail": func(message string) (string, error) {
			if lintMode {
				fmt.Fprintf(os.Stderr, "[INFO] fail: %s\n", message)
				return "", nil
			}
			return "", errors.New(warnStart + message + warnEnd)
		},
		// Without a cluster, lookup finds nothing (as in `helm template`).
		"lookup": func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
		"getHostByName": func(string) string { return "" },
	}
	for name, function := range extra {
		functions[name] = function
	}
	return functions
}

func includeFunc(t *template.Template, includedNames map[string]int) func(string, interface{}) (string, error) {
	return func(name string, data interface{}) (string, error) {
		if includedNames[name] > includeDepthMax {
			return "", fmt.Errorf("rendering template has a nested reference name: %s: unable to execute template", name)
		}
		includedNames[name]++
		defer func() { includedNames[name]-- }()
		var out strings.Builder
		err := t.ExecuteTemplate(&out, name, data)
		return out.String(), err
	}
}

func tplFunc(parent *template.Template, includedNames map[string]int) func(string, interface{}) (string, error) {
	return func(text string, data interface{}) (string, error) {
		clone, err := parent.Clone()
		if err != nil {
			return "", fmt.Errorf("cannot clone template: %w", err)
		}
		clone.Option("missingkey=zero")
		clone.Funcs(template.FuncMap{"include": includeFunc(clone, includedNames), "tpl": tplFunc(clone, includedNames)})
		parsed, err := clone.New(parent.Name()).Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var out strings.Builder
		if err := parsed.Execute(&out, data); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(out.String(), "<no value>", ""), nil
	}
}

// toYAML is Helm's: JSON first (so json tags and key order match), then YAML, trailing newline cut.
func toYAML(value interface{}) string {
	text, err := marshalYAML(value)
	if err != nil {
		return ""
	}
	return text
}

func mustToYAML(value interface{}) string {
	text, err := marshalYAML(value)
	if err != nil {
		panic(err)
	}
	return text
}

func marshalYAML(value interface{}) (string, error) {
	encoded, err := json.Marshal(value)
	if err != nil {
		return "", err
	}
	var generic interface{}
	if err := yaml2.Unmarshal(encoded, &generic); err != nil {
		return "", err
	}
	out, err := yaml2.Marshal(generic)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

func toYAMLPretty(value interface{}) string {
	var out bytes.Buffer
	encoder := yaml3.NewEncoder(&out)
	encoder.SetIndent(2)
	if err := encoder.Encode(value); err != nil {
		return ""
	}
	return strings.TrimSuffix(out.String(), "\n")
}

func fromYAML(text string) map[string]interface{} {
	result, err := parseYAMLMap([]byte(text))
	if err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return result
}

func fromYAMLArray(text string) []interface{} {
	var parsed interface{}
	if err := yaml2.Unmarshal([]byte(text), &parsed); err != nil {
		return []interface{}{err.Error()}
	}
	converted, err := jsonRoundTrip(stringKeys(parsed))
	if err != nil {
		return []interface{}{err.Error()}
	}
	list, ok := converted.([]interface{})
	if !ok {
		return []interface{}{"not a YAML array"}
	}
	return list
}

func toJSON(value interface{}) string {
	out, err := json.Marshal(value)
	if err != nil {
		return ""
	}
	return string(out)
}

func mustToJSON(value interface{}) string {
	out, err := json.Marshal(value)
	if err != nil {
		panic(err)
	}
	return string(out)
}

func fromJSON(text string) map[string]interface{} {
	result := map[string]interface{}{}
	if err := json.Unmarshal([]byte(text), &result); err != nil {
		result["Error"] = err.Error()
	}
	return result
}

func fromJSONArray(text string) []interface{} {
	result := []interface{}{}
	if err := json.Unmarshal([]byte(text), &result); err != nil {
		return []interface{}{err.Error()}
	}
	return result
}

// renderValues is the top-level object templates see.
func renderValues(chart *loadedChart, values map[string]interface{}, release releaseInfo, caps capabilities) map[string]interface{} {
	return map[string]interface{}{
		"Values":       values,
		"Release":      release,
		"Chart":        chartMetadata(chart.metadata),
		"Capabilities": caps,
		"Files":        files(chart.files),
		"Subcharts":    map[string]interface{}{},
	}
}

// render executes every template; partials (_*.tpl) only define named templates.
func render(chart *loadedChart, top map[string]interface{}, lintMode bool) (rendered map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("rendering template failed: %v", r)
		}
	}()
	root := template.New("gotpl")
	root.Option("missingkey=zero")
	root.Funcs(funcMap(root, lintMode))
	names := make([]string, 0, len(chart.templates))
	sources := map[string]string{}
	for _, file := range chart.templates {
		name := path.Join(chart.name(), file.name)
		names = append(names, name)
		sources[name] = string(file.data)
	}
	// Helm parses deeper paths first, then by name, so that shallow definitions win.
	sort.Slice(names, func(i, j int) bool {
		di, dj := strings.Count(names[i], "/"), strings.Count(names[j], "/")
		if di != dj {
			return di > dj
		}
		return names[i] > names[j]
	})
	for _, name := range names {
		if _, err := root.New(name).Parse(sources[name]); err != nil {
			return nil, cleanParseError(name, err)
		}
	}
	rendered = map[string]string{}
	for _, name := range names {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		vals := make(map[string]interface{}, len(top)+1)
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": path.Join(chart.name(), "templates")}
		var out strings.Builder
		if err := root.ExecuteTemplate(&out, name, vals); err != nil {
			return nil, execError(name, err)
		}
		rendered[name] = strings.ReplaceAll(out.String(), "<no value>", "")
	}
	return rendered, nil
}

func cleanParseError(name string, err error) error {
	tokens := strings.Split(err.Error(), ": ")
	if len(tokens) < 2 {
		return fmt.Errorf("parse error in (%s): %w", name, err)
	}
	return fmt.Errorf("parse error at (%s): %s", tokens[1], tokens[len(tokens)-1])
}

func execError(name string, err error) error {
	tokens := strings.SplitN(err.Error(), ": ", 3)
	if len(tokens) != 3 {
		return fmt.Errorf("execution error in (%s): %w", name, err)
	}
	if match := warnPattern.FindStringSubmatch(tokens[2]); match != nil {
		return fmt.Errorf("execution error at (%s): %s", tokens[1], match[1])
	}
	return fmt.Errorf("template: %s", strings.TrimPrefix(err.Error(), "template: "))
}

// ---- manifests --------------------------------------------------------------------------------

type manifest struct {
	source  string
	content string
	kind    string
	name    string
}

var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*`)

// sortManifests splits rendered files into documents and orders them as Helm prints them.
func sortManifests(rendered map[string]string) ([]manifest, error) {
	var sources []string
	for source, content := range rendered {
		if strings.HasSuffix(source, "NOTES.txt") || strings.TrimSpace(content) == "" {
			continue
		}
		sources = append(sources, source)
	}
	sort.Strings(sources)
	var manifests []manifest
	for _, source := range sources {
		body := strings.TrimLeftFunc(rendered[source], isSpace)
		for _, document := range documentSeparator.Split(body, -1) {
			if strings.TrimSpace(document) == "" {
				continue
			}
			// Helm 3 trims each document (Helm 4 keeps its trailing newline).
			document = strings.TrimSpace(document)
			var head struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
			}
			if err := yaml2.Unmarshal([]byte(document), &head); err != nil {
				return nil, fmt.Errorf("YAML parse error on %s: %w", source, err)
			}
			manifests = append(manifests, manifest{source: source, content: document, kind: head.Kind, name: head.Metadata.Name})
		}
	}
	rank := map[string]int{}
	for i, kind := range installOrder {
		rank[kind] = i
	}
	sort.SliceStable(manifests, func(i, j int) bool {
		a, aKnown := rank[manifests[i].kind]
		b, bKnown := rank[manifests[j].kind]
		switch {
		case !aKnown && !bKnown:
			return manifests[i].kind < manifests[j].kind
		case !aKnown:
			return false
		case !bKnown:
			return true
		}
		return a < b
	})
	return manifests, nil
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func prepare(opts options, releaseName string, lintMode bool) (*loadedChart, map[string]string, error) {
	chart, err := loadChart(opts.chartDir)
	if err != nil {
		return nil, nil, err
	}
	user, err := userValues(opts)
	if err != nil {
		return chart, nil, err
	}
	values := coalesce(user, chart.values)
	if !opts.skipSchema {
		if err := validateSchema(chart, values); err != nil {
			return chart, nil, err
		}
	}
	caps, err := newCapabilities(opts)
	if err != nil {
		return chart, nil, err
	}
	if required, _ := chart.metadata["kubeVersion"].(string); required != "" {
		constraint, err := semver.NewConstraint(required)
		if err != nil {
			return chart, nil, fmt.Errorf("invalid kubeVersion %q in Chart.yaml: %w", required, err)
		}
		if version, err := semver.NewVersion(caps.KubeVersion.Version); err != nil || !constraint.Check(version) {
			return chart, nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", required, caps.KubeVersion.Version)
		}
	}
	release := releaseInfo{Name: releaseName, Namespace: opts.namespace, Service: "Helm", IsInstall: !opts.isUpgrade, IsUpgrade: opts.isUpgrade, Revision: 1}
	rendered, err := render(chart, renderValues(chart, values, release, caps), lintMode)
	return chart, rendered, err
}

func renderChart(opts options, out io.Writer) error {
	chart, rendered, err := prepare(opts, opts.releaseName, false)
	if err != nil {
		return err
	}
	if opts.notes {
		_, err := io.WriteString(out, rendered[path.Join(chart.name(), "templates", "NOTES.txt")])
		return err
	}
	manifests, err := sortManifests(rendered)
	if err != nil {
		return err
	}
	var buffer bytes.Buffer
	for _, m := range manifests {
		if !selected(opts.showOnly, chart.name(), m.source) {
			continue
		}
		fmt.Fprintf(&buffer, "---\n# Source: %s\n%s\n", m.source, m.content)
	}
	for _, wanted := range opts.showOnly {
		if !anySelected(wanted, chart.name(), manifests) {
			return fmt.Errorf("could not find template %s in chart", wanted)
		}
	}
	_, err = out.Write(buffer.Bytes())
	return err
}

func selected(showOnly []string, chartName, source string) bool {
	if len(showOnly) == 0 {
		return true
	}
	for _, wanted := range showOnly {
		if matchSource(wanted, chartName, source) {
			return true
		}
	}
	return false
}

func anySelected(wanted, chartName string, manifests []manifest) bool {
	for _, m := range manifests {
		if matchSource(wanted, chartName, m.source) {
			return true
		}
	}
	return false
}

func matchSource(wanted, chartName, source string) bool {
	wanted = filepath.ToSlash(wanted)
	if ok, _ := path.Match(wanted, source); ok {
		return true
	}
	ok, _ := path.Match(path.Join(chartName, wanted), source)
	return ok
}

// ---- lint -------------------------------------------------------------------------------------

type lintMessage struct {
	severity string // INFO, WARNING, ERROR
	path     string
	err      error
}

// lint applies helm lint's rules (pkg/lint/rules: chartfile, values, templates) and prints as it does.
func lint(opts options, out io.Writer) int {
	var messages []lintMessage
	add := func(severity, file string, err error) bool {
		if err != nil {
			messages = append(messages, lintMessage{severity, file, err})
		}
		return err == nil
	}
	lintChartfile(opts.chartDir, add)
	lintValues(opts, add)
	lintTemplates(opts, add)

	fmt.Fprintf(out, "==> Linting %s\n", opts.chartDir)
	failed := false
	for _, m := range messages {
		fmt.Fprintf(out, "[%s] %s: %v\n", m.severity, m.path, m.err)
		failed = failed || m.severity == "ERROR"
	}
	fmt.Fprintln(out)
	if failed {
		fmt.Fprintln(out, "Error: 1 chart(s) linted, 1 chart(s) failed")
		return 1
	}
	fmt.Fprintln(out, "1 chart(s) linted, 0 chart(s) failed")
	return 0
}

type addFunc func(severity, file string, err error) bool

// chartMetadataStrict lists Chart.yaml's fields, for the strict-parse warning.
type chartMetadataStrict struct {
	Name         string            `yaml:"name"`
	Home         string            `yaml:"home"`
	Sources      []string          `yaml:"sources"`
	Version      interface{}       `yaml:"version"`
	Description  string            `yaml:"description"`
	Keywords     []string          `yaml:"keywords"`
	Maintainers  []maintainer      `yaml:"maintainers"`
	Icon         string            `yaml:"icon"`
	APIVersion   string            `yaml:"apiVersion"`
	Condition    string            `yaml:"condition"`
	Tags         string            `yaml:"tags"`
	AppVersion   interface{}       `yaml:"appVersion"`
	Deprecated   bool              `yaml:"deprecated"`
	Annotations  map[string]string `yaml:"annotations"`
	KubeVersion  string            `yaml:"kubeVersion"`
	Dependencies []interface{}     `yaml:"dependencies"`
	Type         string            `yaml:"type"`
}

type maintainer struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
	URL   string `yaml:"url"`
}

var (
	emailPattern = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	urlPattern   = regexp.MustCompile(`^https?://[^\s/$.?#].[^\s]*$`)
)

func lintChartfile(dir string, add addFunc) {
	const file = "Chart.yaml"
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if !add("ERROR", file, err) {
		return
	}
	var loose chartMetadataStrict
	if !add("ERROR", file, wrap("unable to parse YAML\n\t", yaml2.Unmarshal(raw, &loose))) {
		return
	}
	var strict chartMetadataStrict
	add("WARNING", file, wrap("failed to strictly parse chart metadata file\n\t", yaml2.UnmarshalStrict(raw, &strict)))
	switch {
	case loose.Name == "":
		add("ERROR", file, errors.New("name is required"))
	case filepath.Base(loose.Name) != loose.Name:
		add("ERROR", file, fmt.Errorf("chart name %q is invalid", loose.Name))
	}
	switch loose.APIVersion {
	case "v1", "v2":
	case "":
		add("ERROR", file, errors.New(`apiVersion is required. The value must be either "v1" or "v2"`))
	default:
		add("ERROR", file, fmt.Errorf(`apiVersion '%s' is not valid. The value must be either "v1" or "v2"`, loose.APIVersion))
	}
	version, isString := loose.Version.(string)
	if loose.Version != nil && !isString {
		add("ERROR", file, fmt.Errorf("version should be of type string but it's of type %T", loose.Version))
	}
	if loose.AppVersion != nil {
		if _, ok := loose.AppVersion.(string); !ok {
			add("ERROR", file, fmt.Errorf("appVersion should be of type string but it's of type %T", loose.AppVersion))
		}
	}
	if version == "" {
		add("ERROR", file, errors.New("version is required"))
	} else if parsed, err := semver.NewVersion(version); err != nil {
		add("ERROR", file, fmt.Errorf("version '%s' is not a valid SemVer", version))
	} else if constraint, _ := semver.NewConstraint(">0.0.0-0"); !constraint.Check(parsed) {
		add("ERROR", file, fmt.Errorf("version %s is not greater than 0.0.0-0", version))
	} else if _, err := semver.StrictNewVersion(version); err != nil {
		add("WARNING", file, fmt.Errorf("version '%s' is not a valid SemVerV2", version))
	}
	for _, m := range loose.Maintainers {
		switch {
		case m.Name == "":
			add("ERROR", file, errors.New("each maintainer requires a name"))
		case m.Email != "" && !emailPattern.MatchString(m.Email):
			add("ERROR", file, fmt.Errorf("invalid email '%s' for maintainer '%s'", m.Email, m.Name))
		case m.URL != "" && !urlPattern.MatchString(m.URL):
			add("ERROR", file, fmt.Errorf("invalid url '%s' for maintainer '%s'", m.URL, m.Name))
		}
	}
	for _, source := range loose.Sources {
		if !urlPattern.MatchString(source) {
			add("ERROR", file, fmt.Errorf("invalid source URL '%s'", source))
		}
	}
	if loose.Icon == "" {
		add("INFO", file, errors.New("icon is recommended"))
	} else if !urlPattern.MatchString(loose.Icon) {
		add("ERROR", file, fmt.Errorf("invalid icon URL '%s'", loose.Icon))
	}
	if loose.Type != "" && loose.APIVersion != "v2" {
		add("ERROR", file, fmt.Errorf("chart type is not valid in apiVersion '%s'. It is valid in apiVersion 'v2'", loose.APIVersion))
	}
	if len(loose.Dependencies) > 0 && loose.APIVersion != "v2" {
		add("ERROR", file, fmt.Errorf("dependencies are not valid in the Chart file with apiVersion '%s'. They are valid in apiVersion 'v2'", loose.APIVersion))
	}
}

func wrap(prefix string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s%w", prefix, err)
}

func lintValues(opts options, add addFunc) {
	const file = "values.yaml"
	raw, err := os.ReadFile(filepath.Join(opts.chartDir, file))
	if err != nil {
		add("INFO", file, errors.New("file does not exist"))
		return
	}
	values, err := parseYAMLMap(raw)
	if !add("ERROR", file, wrap("unable to parse YAML: ", err)) {
		return
	}
	chart, err := loadChart(opts.chartDir)
	if err != nil {
		return // reported by the template rules
	}
	user, err := userValues(opts)
	if !add("ERROR", file, err) {
		return
	}
	if !opts.skipSchema {
		add("ERROR", file, validateSchema(chart, coalesce(user, values)))
	}
}

var (
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1035Label     = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

func lintTemplates(opts options, add addFunc) {
	const dir = "templates/"
	info, err := os.Stat(filepath.Join(opts.chartDir, "templates"))
	if err != nil {
		add("WARNING", dir, errors.New("directory does not exist"))
		return
	}
	if !info.IsDir() {
		add("ERROR", dir, errors.New("not a directory"))
		return
	}
	lintOpts := opts
	chart, rendered, err := prepare(lintOpts, lintReleaseName, true)
	if !add("ERROR", dir, err) {
		return
	}
	for _, file := range chart.templates {
		switch filepath.Ext(file.name) {
		case ".yaml", ".yml", ".tpl", ".txt":
		default:
			add("ERROR", file.name, fmt.Errorf("file extension '%s' not valid. Valid extensions are .yaml, .yml, .tpl, or .txt", filepath.Ext(file.name)))
		}
		ext := strings.ToLower(filepath.Ext(file.name))
		if ext != ".yaml" && ext != ".yml" {
			continue
		}
		content := rendered[path.Join(chart.name(), file.name)]
		if strings.TrimSpace(content) == "" {
			continue
		}
		add("WARNING", file.name, topIndent(content))
		decoder := yaml3.NewDecoder(strings.NewReader(content))
		for {
			var document map[string]interface{}
			err := decoder.Decode(&document)
			if errors.Is(err, io.EOF) {
				break
			}
			if !add("ERROR", file.name, wrap("unable to parse YAML: ", err)) {
				return
			}
			if document == nil {
				continue
			}
			kind, _ := document["kind"].(string)
			metadata, _ := document["metadata"].(map[string]interface{})
			name, _ := metadata["name"].(string)
			add("WARNING", file.name, validateName(kind, name))
			switch kind {
			case "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet":
				if !strings.Contains(content, "matchLabels") && !strings.Contains(content, "matchExpressions") {
					add("ERROR", file.name, fmt.Errorf("a %s must contain matchLabels or matchExpressions, and %q does not", kind, name))
				}
			}
		}
	}
}

func topIndent(content string) error {
	scanner := bufio.NewScanner(strings.NewReader(content))
	for scanner.Scan() {
		line := scanner.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			return fmt.Errorf("document starts with an illegal indent: %q, which may cause parsing problems", line)
		}
		return nil
	}
	return nil
}

// validateName checks metadata.name with the rule of the kind, as helm lint does.
func validateName(kind, name string) error {
	var problem string
	switch strings.ToLower(kind) {
	case "service":
		if len(name) > 63 || !dns1035Label.MatchString(name) {
			problem = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (at most 63)"
		}
	case "namespace":
		if len(name) > 63 || !dns1123Label.MatchString(name) {
			problem = "a lowercase RFC 1123 label (at most 63 characters)"
		}
	case "certificatesigningrequest":
	case "role", "clusterrole", "rolebinding", "clusterrolebinding":
		if name == "." || name == ".." || strings.ContainsAny(name, "/%") {
			problem = "may not be '.' or '..' and may not contain '/' or '%'"
		}
	default:
		if len(name) > 253 || !dns1123Subdomain.MatchString(name) {
			problem = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (at most 253)"
		}
	}
	if problem == "" {
		return nil
	}
	return fmt.Errorf("object name does not conform to Kubernetes naming requirements: %q: metadata.name: Invalid value: %q: %s", name, name, problem)
}
