// Command xcheck drives client-go's tools/record with a scripted trace, so that kubevents.record
// can be compared with it call for call (tests/xcheck), and times client-go's EventCorrelator
// for the recorder benchmarks (bench/recorder.py).
//
//	xcheck -kubeconfig PATH -namespace NS -trace FILE     run a trace against a real apiserver
//	xcheck -bench-correlate N -trace FILE                 correlate N events, no API
//
// Both modes print one JSON document on stdout; client-go's own logging goes to stderr.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// namespacePlaceholder in a trace stands for the namespace of the run: each side of a parity
// comparison records into a fresh namespace of its own.
const namespacePlaceholder = "$ns"

// barrierUID marks the event that ends a trace. The recording sink swallows it: once the sink
// has seen it, every event recorded before it has been handled, because client-go's watcher
// goroutine handles events one at a time and in order.
const barrierUID = "xcheck-barrier"

// The correlator reads its clock exactly twice per event (EventAggregate, then the spam
// filter's TryAccept). Counting reads tells the driver how far the watcher goroutine has got
// without sleeping or polling the API.
const clockReadsPerEvent = 2

const deliveryTimeout = 5 * time.Minute

type objectRef struct {
	Kind            string `json:"kind"`
	Namespace       string `json:"namespace"`
	Name            string `json:"name"`
	UID             string `json:"uid"`
	APIVersion      string `json:"apiVersion"`
	ResourceVersion string `json:"resourceVersion"`
	FieldPath       string `json:"fieldPath"`
}

type eventSource struct {
	Component string `json:"component"`
	Host      string `json:"host"`
}

type step struct {
	Object  objectRef    `json:"object"`
	Type    string       `json:"type"`
	Reason  string       `json:"reason"`
	Message string       `json:"message"`
	Advance int64        `json:"advance"` // whole seconds, applied to the fake clock first
	Source  *eventSource `json:"source"`  // nil: the trace's source
}

type traceOptions struct {
	LRUCacheSize int `json:"lruCacheSize"` // 0: client-go's default
}

type trace struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Start       time.Time       `json:"start"`
	Source      eventSource     `json:"source"`
	Options     traceOptions    `json:"options"`
	Expect      json.RawMessage `json:"expect"` // checked by the Python side
	Steps       []step          `json:"steps"`
}

func (t *trace) correlatorOptions(clock clock.PassiveClock) record.CorrelatorOptions {
	return record.CorrelatorOptions{Clock: clock, LRUCacheSize: t.Options.LRUCacheSize}
}

func loadTrace(path string) (*trace, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t trace
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, s := range t.Steps {
		if s.Type != corev1.EventTypeNormal && s.Type != corev1.EventTypeWarning {
			// The recorder drops such events before the correlator reads the clock, which
			// would stall the read counting below.
			return nil, fmt.Errorf("%s: step %d: type %q is not Normal or Warning", path, i, s.Type)
		}
		if s.Advance < 0 {
			return nil, fmt.Errorf("%s: step %d: negative advance", path, i)
		}
	}
	return &t, nil
}

func (s step) ref(namespace string) *corev1.ObjectReference {
	ns := s.Object.Namespace
	if ns == namespacePlaceholder || ns == "" {
		ns = namespace
	}
	return &corev1.ObjectReference{
		Kind:            s.Object.Kind,
		Namespace:       ns,
		Name:            s.Object.Name,
		UID:             types.UID(s.Object.UID),
		APIVersion:      s.Object.APIVersion,
		ResourceVersion: s.Object.ResourceVersion,
		FieldPath:       s.Object.FieldPath,
	}
}

func (t *trace) sourceOf(s step) corev1.EventSource {
	src := t.Source
	if s.Source != nil {
		src = *s.Source
	}
	return corev1.EventSource{Component: src.Component, Host: src.Host}
}

// countingClock is the correlator's clock: a fake clock whose reads are counted.
type countingClock struct {
	fake  *clocktesting.FakeClock
	mu    sync.Mutex
	cond  *sync.Cond
	reads int
}

func newCountingClock(start time.Time) *countingClock {
	c := &countingClock{fake: clocktesting.NewFakeClock(start)}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *countingClock) Now() time.Time {
	// Read first, count second: the driver may step the clock as soon as the count says this
	// event has read it.
	now := c.fake.Now()
	c.mu.Lock()
	c.reads++
	c.cond.Broadcast()
	c.mu.Unlock()
	return now
}

func (c *countingClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func (c *countingClock) readCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// waitReads blocks until the clock has been read at least n times, or the deadline passes.
func (c *countingClock) waitReads(n int, deadline time.Time) error {
	timer := time.AfterFunc(time.Until(deadline), func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.reads < n {
		if !time.Now().Before(deadline) {
			return fmt.Errorf("timed out waiting for %d correlator clock reads (have %d)", n, c.reads)
		}
		c.cond.Wait()
	}
	return nil
}

type apiCall struct {
	Verb      string `json:"verb"`
	Step      int    `json:"step"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Body      string `json:"body"` // create/update: the Event as JSON; patch: the patch bytes
	Code      int32  `json:"code"` // 0 on success, else the HTTP status of the error (-1: not a status error)
	Reason    string `json:"reason,omitempty"`
	Error     string `json:"error,omitempty"`
}

// recordingSink wraps client-go's EventSinkImpl and logs every call it is given, in order.
type recordingSink struct {
	inner   record.EventSink
	clock   *countingClock
	mu      sync.Mutex
	calls   []apiCall
	barrier chan struct{}
}

func (s *recordingSink) log(verb string, event *corev1.Event, body string, err error) {
	call := apiCall{
		Verb: verb,
		// The watcher is handling the event whose two reads came last.
		Step:      s.clock.readCount()/clockReadsPerEvent - 1,
		Namespace: event.Namespace,
		Name:      event.Name,
		Body:      body,
	}
	if err != nil {
		call.Error = err.Error()
		call.Code = -1
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			call.Code = status.Status().Code
			call.Reason = string(status.Status().Reason)
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
}

func eventJSON(event *corev1.Event) string {
	raw, err := json.Marshal(event)
	if err != nil {
		return fmt.Sprintf("<unencodable: %v>", err)
	}
	return string(raw)
}

func (s *recordingSink) Create(event *corev1.Event) (*corev1.Event, error) {
	if string(event.InvolvedObject.UID) == barrierUID {
		close(s.barrier)
		return event.DeepCopy(), nil
	}
	body := eventJSON(event)
	created, err := s.inner.Create(event)
	s.log("create", event, body, err)
	return created, err
}

func (s *recordingSink) Update(event *corev1.Event) (*corev1.Event, error) {
	body := eventJSON(event)
	updated, err := s.inner.Update(event)
	s.log("update", event, body, err)
	return updated, err
}

func (s *recordingSink) Patch(event *corev1.Event, data []byte) (*corev1.Event, error) {
	patched, err := s.inner.Patch(event, data)
	s.log("patch", event, string(data), err)
	return patched, err
}

type traceResult struct {
	Trace  string            `json:"trace"`
	Calls  []apiCall         `json:"calls"`
	Events []json.RawMessage `json:"events"`
}

func runTrace(kubeconfig, namespace, tracePath string) (*traceResult, error) {
	t, err := loadTrace(tracePath)
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	// No client-side throttling: kubevents has none either, and the default 5 QPS would only
	// make the run slow, not different.
	cfg.QPS = -1
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}

	clock := newCountingClock(t.Start)
	sink := &recordingSink{
		inner:   &typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")},
		clock:   clock,
		barrier: make(chan struct{}),
	}
	broadcaster := record.NewBroadcaster(record.WithCorrelatorOptions(t.correlatorOptions(clock)))
	broadcaster.StartRecordingToSink(sink)
	recorders := map[corev1.EventSource]record.EventRecorder{}
	recorderFor := func(src corev1.EventSource) record.EventRecorder {
		r, ok := recorders[src]
		if !ok {
			r = broadcaster.NewRecorder(scheme.Scheme, src)
			recorders[src] = r
		}
		return r
	}

	deadline := time.Now().Add(deliveryTimeout)
	for i, s := range t.Steps {
		// Step i's event may only meet the clock after every earlier event has been correlated:
		// this also keeps at most one event queued, so client-go's drop-when-full never fires.
		if err := clock.waitReads(i*clockReadsPerEvent, deadline); err != nil {
			return nil, fmt.Errorf("step %d: %w", i, err)
		}
		clock.fake.Step(time.Duration(s.Advance) * time.Second)
		recorderFor(t.sourceOf(s)).Event(s.ref(namespace), s.Type, s.Reason, s.Message)
	}
	if err := clock.waitReads(len(t.Steps)*clockReadsPerEvent, deadline); err != nil {
		return nil, err
	}
	barrier := &corev1.ObjectReference{
		Kind: "ConfigMap", Namespace: namespace, Name: barrierUID, UID: barrierUID, APIVersion: "v1",
	}
	recorderFor(corev1.EventSource{Component: barrierUID}).Event(barrier, corev1.EventTypeNormal, "Barrier", "end of trace")
	select {
	case <-sink.barrier:
	case <-time.After(time.Until(deadline)):
		return nil, errors.New("timed out waiting for the sink to handle the end-of-trace barrier")
	}
	broadcaster.Shutdown()

	list, err := client.CoreV1().Events(namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	result := &traceResult{Trace: t.Name, Events: []json.RawMessage{}}
	sink.mu.Lock()
	result.Calls = append([]apiCall{}, sink.calls...)
	sink.mu.Unlock()
	for i := range list.Items {
		raw, err := json.Marshal(&list.Items[i])
		if err != nil {
			return nil, err
		}
		result.Events = append(result.Events, raw)
	}
	return result, nil
}

type benchResult struct {
	Implementation string  `json:"implementation"`
	Version        string  `json:"version"`
	Events         int     `json:"events"`
	Skipped        int     `json:"skipped"`
	Patches        int     `json:"patches"`
	Seconds        float64 `json:"seconds"`
	PerSecond      float64 `json:"per_second"`
	GOMAXPROCS     int     `json:"gomaxprocs"`
}

// benchCorrelate times EventCorrelate over n events cycled from the trace, with no API and no
// broadcaster: the same loop bench/recorder.py runs over kubevents' EventCorrelator.
func benchCorrelate(n int, tracePath string) (*benchResult, error) {
	t, err := loadTrace(tracePath)
	if err != nil {
		return nil, err
	}
	if len(t.Steps) == 0 {
		return nil, errors.New("empty trace")
	}
	// One core, as the Python side has: the GC would otherwise run on the idle ones for free.
	runtime.GOMAXPROCS(1)
	clock := clocktesting.NewFakeClock(t.Start)
	correlator := record.NewEventCorrelatorWithOptions(t.correlatorOptions(clock))

	// Built up front, like the Python side, so only correlation is timed.
	events := make([]*corev1.Event, len(t.Steps))
	stamp := metav1.NewTime(t.Start)
	for i, s := range t.Steps {
		ref := s.ref("bench")
		src := t.sourceOf(s)
		events[i] = &corev1.Event{
			ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", ref.Name, i), Namespace: ref.Namespace},
			InvolvedObject:      *ref,
			Reason:              s.Reason,
			Message:             s.Message,
			Source:              src,
			FirstTimestamp:      stamp,
			LastTimestamp:       stamp,
			Count:               1,
			Type:                s.Type,
			ReportingController: src.Component,
			ReportingInstance:   src.Host,
		}
	}
	result := &benchResult{Implementation: "client-go", Version: clientGoVersion(), Events: n, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	runtime.GC()
	began := time.Now()
	for i := 0; i < n; i++ {
		k := i % len(events)
		if adv := t.Steps[k].Advance; adv != 0 {
			clock.Step(time.Duration(adv) * time.Second)
		}
		res, err := correlator.EventCorrelate(events[k])
		if err != nil {
			return nil, err
		}
		if res.Skip {
			result.Skipped++
		} else if res.Patch != nil {
			result.Patches++
		}
	}
	result.Seconds = time.Since(began).Seconds()
	result.PerSecond = float64(n) / result.Seconds
	return result, nil
}

func clientGoVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == "k8s.io/client-go" {
			return dep.Version
		}
	}
	return "unknown"
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the apiserver to record into")
	namespace := flag.String("namespace", "", "namespace of this run (replaces $ns in the trace)")
	tracePath := flag.String("trace", "", "trace file (JSON)")
	bench := flag.Int("bench-correlate", 0, "time EventCorrelate over N events of the trace (no API)")
	flag.Parse()

	var out any
	var err error
	switch {
	case *tracePath == "":
		err = errors.New("-trace is required")
	case *bench > 0:
		out, err = benchCorrelate(*bench, *tracePath)
	case *kubeconfig == "" || *namespace == "":
		err = errors.New("-kubeconfig and -namespace are required to run a trace")
	default:
		out, err = runTrace(*kubeconfig, *namespace, *tracePath)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xcheck:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "xcheck:", err)
		os.Exit(1)
	}
}
