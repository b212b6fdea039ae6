package swarm_test

import (
	"testing"

	"github.com/gotwister/twister/swarm"
	"github.com/gotwister/twister/swarm/storetest"
)

func TestMemStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) swarm.PostStore { return swarm.NewMemStore() })
}
