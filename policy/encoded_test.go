package policy

import (
	"errors"
	"sync"
	"testing"
)

func TestEncodedIsMadeOnceAndAFailureIsNotKept(t *testing.T) {
	t.Parallel()
	var e Encoded
	calls := 0
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 8 {
		wg.Go(func() {
			b, err := e.Get(func() ([]byte, error) {
				mu.Lock()
				calls++
				mu.Unlock()
				return []byte(`{"a":1}`), nil
			})
			if err != nil || string(b) != `{"a":1}` {
				t.Errorf("Get = %q, %v", b, err)
			}
		})
	}
	wg.Wait()
	if calls != 1 {
		t.Fatalf("encoded %d times, want once", calls)
	}

	var failed Encoded
	broken := errors.New("not encodable")
	for i := range 3 {
		b, err := failed.Get(func() ([]byte, error) { return nil, broken })
		if !errors.Is(err, broken) || b != nil {
			t.Fatalf("call %d after a failed encoding: %q, %v; want the error again", i, b, err)
		}
	}
}

// TestEncodedInTwoParts: GetParts gives both parts of one encoding, Get
// the first; a cell Get filled has an empty second part.
func TestEncodedInTwoParts(t *testing.T) {
	t.Parallel()
	var e Encoded
	head, tail, err := e.GetParts(func() ([]byte, int, error) { return []byte(`{"a":1},"b":2`), 7, nil })
	if err != nil || string(head) != `{"a":1}` || string(tail) != `,"b":2` {
		t.Fatalf("GetParts = %q, %q, %v", head, tail, err)
	}
	if b, err := e.Get(func() ([]byte, error) { return []byte("again"), nil }); err != nil || string(b) != `{"a":1}` {
		t.Fatalf("Get after GetParts = %q, %v; want the first part", b, err)
	}
	var g Encoded
	if _, err := g.Get(func() ([]byte, error) { return []byte("x"), nil }); err != nil {
		t.Fatal(err)
	}
	if head, tail, err := g.GetParts(func() ([]byte, int, error) { return []byte("yz"), 1, nil }); err != nil || string(head) != "x" || len(tail) != 0 {
		t.Fatalf("GetParts after Get = %q, %q, %v; want x and nothing", head, tail, err)
	}
	var failed Encoded
	broken := errors.New("not encodable")
	for i := range 2 {
		if h, tl, err := failed.GetParts(func() ([]byte, int, error) { return nil, 0, broken }); !errors.Is(err, broken) || h != nil || tl != nil {
			t.Fatalf("call %d after a failed encoding: %q, %q, %v", i, h, tl, err)
		}
	}
}
