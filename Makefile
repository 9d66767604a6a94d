# The README's two commands. Both set everything up on a fresh machine.
.PHONY: run test bench chaos fuzz image screenshots

run:  ## set up, then run the main job
	scripts/dev.sh run

test:  ## set up, then lint, type-check and pass the whole test suite (real components included)
	scripts/dev.sh test

bench:  ## set up, run every benchmark (~9 min warm), print the ratio table, write bench/results/
	scripts/dev.sh bench

chaos:  ## set up, then SIGKILL the exporter 20 times during a 50 000-operation flood and verify from outside (~6 min)
	scripts/dev.sh chaos

fuzz:  ## set up, then fuzz every input decoder with 10^5+ cases and a random seed (~1.5 min)
	scripts/dev.sh fuzz

image:  ## build the OCI image with podman (no Docker daemon) and check it; not part of make test
	scripts/dev.sh image

screenshots:  ## set up, then rerun the web UI's browser tests, saving each view into docs/img/ (~30 s)
	scripts/dev.sh screenshots
