package pipeline

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

var testPart = NewPart[int]()

func TestTheRequestContextEndsByDeadlineByEndOrWithItsParent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		end   func(rq *Request, parent context.CancelFunc)
		cause error
	}{
		{"the deadline passes", func(rq *Request, _ context.CancelFunc) { rq.Expire(time.Millisecond) }, context.DeadlineExceeded},
		{"the request ends", func(rq *Request, _ context.CancelFunc) { rq.End() }, context.Canceled},
		{"the parent is cancelled (the client left)", func(_ *Request, cancel context.CancelFunc) { cancel() }, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent, cancel := context.WithCancel(context.Background())
			defer cancel()
			var rq Request
			v := 7
			testPart.Bind(&rq, &v)
			ctx := WithRequest(parent, &rq)
			if FromContext(ctx) != &rq || testPart.From(ctx) != &v || testPart.Of(&rq) != &v {
				t.Fatal("the context does not carry the request and its part")
			}
			if ctx.Err() != nil {
				t.Fatalf("a new request context is done: %v", ctx.Err())
			}
			// A context made from it (the transport's) ends with it.
			child, stop := context.WithCancel(ctx)
			defer stop()
			tc.end(&rq, cancel)
			for _, c := range []context.Context{ctx, child} {
				select {
				case <-c.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("the context was not cancelled")
				}
				if got := context.Cause(c); !errors.Is(got, tc.cause) {
					t.Fatalf("cause %v, want %v", got, tc.cause)
				}
			}
		})
	}
	t.Run("outside the pipeline there is no request and no part", func(t *testing.T) {
		if FromContext(context.Background()) != nil || testPart.From(context.Background()) != nil || testPart.Of(nil) != nil || testPart.Of(&Request{}) != nil {
			t.Fatal("a part outside the pipeline or unbound")
		}
	})
	t.Run("contexts made from it need no goroutine to follow it", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		var rq Request
		ctx := WithRequest(parent, &rq)
		before := runtime.NumGoroutine()
		for range 100 {
			_, stop := context.WithCancel(ctx)
			defer stop()
		}
		if n := runtime.NumGoroutine(); n >= before+100 {
			t.Fatalf("%d goroutines after 100 child contexts, %d before", n, before)
		}
	})
	t.Run("a stopped deadline leaves the context alive", func(t *testing.T) {
		var rq Request
		ctx := WithRequest(context.Background(), &rq)
		rq.Expire(time.Hour).Stop()
		if ctx.Err() != nil {
			t.Fatalf("err %v", ctx.Err())
		}
		rq.End()
	})
}
