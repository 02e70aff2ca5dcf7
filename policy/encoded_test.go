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
