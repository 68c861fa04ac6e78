# The two commands a new machine needs: `make demo` and `make test`.
.PHONY: demo test bench deps clean

demo:
	scripts/demo.sh

test:
	scripts/test.sh

bench:
	scripts/bench.sh

deps:
	scripts/install-deps.sh

clean:
	rm -rf .build .skald
