# Thin wrapper over meson/ninja; see README.md.
BUILD ?= build
.PHONY: all build deps test demo bench guest clean

all: build

deps:
	@tools/deps.sh

$(BUILD)/build.ninja:
	@tools/deps.sh
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

test: build
	@tools/test.sh

demo: build
	@tools/demo.sh

bench: build
	@bench/run.sh

clean:
	rm -rf $(BUILD) build-asan
