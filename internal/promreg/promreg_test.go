package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	newCounter := func() prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "portcullis_test_total", Help: "test"})
	}
	first, err := Register(reg, newCounter())
	if err != nil {
		t.Fatal(err)
	}
	second, err := Register(reg, newCounter())
	if err != nil || second != first {
		t.Fatalf("a second registration returned %v, %v; want the first collector", second, err)
	}
	c := newCounter()
	if got, err := Register(nil, c); got != c || err != nil {
		t.Fatalf("a nil registerer returned %v, %v", got, err)
	}
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Name: "portcullis_test_total", Help: "other"})
	if _, err := Register(reg, clash); err == nil {
		t.Fatal("a conflicting collector was accepted")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("MustRegister did not panic on a conflict")
		}
	}()
	MustRegister(reg, clash)
}
