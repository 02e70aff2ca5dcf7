package fetch

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/plugins/bundle"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
	"github.com/open-policy-agent/opa/v1/plugins/status"
	"github.com/rs/zerolog"
)

// Reporter sends OPA status updates (POST /status with OPA's
// UpdateRequestV1) to a status service, so control planes that expect
// OPA agents see the gateway's bundles. Updates are coalesced: one is in
// flight at a time and the latest state wins.
type Reporter struct {
	client  rest.Client
	labels  map[string]string
	sources func() []*Source
	log     zerolog.Logger
	kick    chan struct{}
	stop    chan struct{}
	done    sync.WaitGroup
}

// NewReporter reports the status of the sources sources returns; labels
// are OPA's (id, version), the gateway adds its own.
func NewReporter(svc Service, labels map[string]string, sources func() []*Source, log zerolog.Logger) (*Reporter, error) {
	c, err := svc.client(svc.URL)
	if err != nil {
		return nil, err
	}
	return &Reporter{client: c, labels: labels, sources: sources, log: log, kick: make(chan struct{}, 1), stop: make(chan struct{})}, nil
}

// Changed asks for an update; it never blocks.
func (r *Reporter) Changed() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Start sends updates until Close.
func (r *Reporter) Start() {
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		for {
			select {
			case <-r.stop:
				return
			case <-r.kick:
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if err := r.send(ctx); err != nil {
					r.log.Warn().Err(err).Msg("status report not delivered")
				}
				cancel()
			}
		}
	}()
}

// Close stops reporting.
func (r *Reporter) Close() {
	close(r.stop)
	r.done.Wait()
}

func (r *Reporter) send(ctx context.Context) error {
	req := status.UpdateRequestV1{Labels: r.labels, Bundles: map[string]*bundle.Status{}}
	for _, s := range r.sources() {
		st := s.Status().Status
		req.Bundles[st.Name] = &st
	}
	resp, err := r.client.WithJSON(req).Do(ctx, http.MethodPost, "/status")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status service answered %d", resp.StatusCode)
	}
	return nil
}
