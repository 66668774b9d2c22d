# rvf — build, test and demo entry points. Outputs go to build/.
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
PKGS    := jansson libsodium zlib libisal libbpf cunit libmicrohttpd nettle
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Iuser/lib $(PKG_CFLAGS) -DRVF_HAVE_MHD
LDLIBS   = $(PKG_LIBS) -lm -lpthread

B       := build
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC := $(sort $(wildcard user/lib/*.c))
CLI_SRC := $(sort $(wildcard user/cli/*.c))
TST_SRC := $(sort $(wildcard tests/unit/*.c))
CLT_SRC := $(sort $(wildcard user/client/*.c))
# The query program is built once per supported dimension (a compile-time
# constant lets the verifier see fully unrolled inner loops).
BPF_DIMS   := 64 128 256 384 512 768
BPF_PERDIM := $(wildcard bpf/rvf_xdp.bpf.c)
BPF_SRC := $(filter-out $(BPF_PERDIM),$(sort $(wildcard bpf/*.bpf.c)))
FUZ_SRC := $(sort $(wildcard tests/fuzz/*.c))
HDRS    := $(wildcard include/*.h user/lib/*.h user/cli/*.h user/client/*.h tests/unit/*.h)

LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(B)/obj/%.o)
TST_OBJ  := $(TST_SRC:%.c=$(B)/obj/%.o)
LIB_AOBJ := $(LIB_SRC:%.c=$(B)/asan/%.o)
CLI_AOBJ := $(CLI_SRC:%.c=$(B)/asan/%.o)
TST_AOBJ := $(TST_SRC:%.c=$(B)/asan/%.o)
CLT_OBJ  := $(CLT_SRC:%.c=$(B)/obj/%.o)
CLT_AOBJ := $(CLT_SRC:%.c=$(B)/asan/%.o)
BPF_OBJ  := $(BPF_SRC:bpf/%.bpf.c=$(B)/bpf/%.bpf.o) \
            $(if $(BPF_PERDIM),$(foreach d,$(BPF_DIMS),$(B)/bpf/rvf_xdp_d$(d).bpf.o))
FUZ_BIN  := $(FUZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)

# BPF loader (loader/, see loader/loader.h): linked into the CLI, the daemon
# and the unit tests; rvf-loadctl is its operator/test front end.
LDR_SRC  := $(sort $(wildcard loader/*.c))
LDR_OBJ  := $(LDR_SRC:%.c=$(B)/obj/%.o)
LDR_AOBJ := $(LDR_SRC:%.c=$(B)/asan/%.o)
CFLAGS   += -Iloader -DRVF_LOADER
HDRS     += $(wildcard loader/*.h user/rvfd/*.h)
# Control daemon (user/rvfd).
RVFD_SRC := $(sort $(wildcard user/rvfd/*.c))
RVFD_OBJ := $(RVFD_SRC:%.c=$(B)/obj/%.o)
RVFD_BIN := $(if $(RVFD_SRC),$(B)/rvfd)

# Shared libraries, installed archives, man pages, make install / uninstall.
.DEFAULT_GOAL := all
include mk/shared.mk mk/install.mk

.PHONY: all deps check-deps test unit asan-unit integration fuzz fuzz-long interop demo bench clean wasm node node-asan python
all: check-deps $(B)/rvf $(B)/librvf.a $(B)/rvf_tests $(BPF_OBJ) $(B)/rvf-loadctl $(RVFD_BIN) \
     $(SHARED_LIBS) $(MAN_PAGES)

# `make deps` installs every Debian package. The goals that provision a
# fresh machine (deps, test, demo, bench, fuzz, wasm, node) install what is missing;
# every other goal (plain `make`, `make install`) never runs apt-get: it
# stops naming the missing build packages.
PROVISION_GOALS := deps test demo bench fuzz fuzz-long wasm node node-asan python
deps:
	scripts/deps.sh --install
check-deps:
ifneq ($(filter $(PROVISION_GOALS),$(MAKECMDGOALS)),)
	@scripts/deps.sh --check || scripts/deps.sh --install
else
	@scripts/deps.sh --check-build
endif

$(B)/obj/%.o: %.c $(HDRS) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(B)/asan/%.o: %.c $(HDRS) | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(SAN) -c $< -o $@

$(B)/librvf.a: $(LIB_OBJ)
	@rm -f $@; ar rcs $@ $^
$(B)/asan/librvf.a: $(LIB_AOBJ)
	@rm -f $@; ar rcs $@ $^

# UDP query client library (user/client), used by the CLI and the tests.
$(B)/librvfclient.a: $(CLT_OBJ)
	@rm -f $@; ar rcs $@ $^
$(B)/asan/librvfclient.a: $(CLT_AOBJ)
	@rm -f $@; ar rcs $@ $^

$(B)/librvfloader.a: $(LDR_OBJ)
	@rm -f $@; ar rcs $@ $^
$(B)/asan/librvfloader.a: $(LDR_AOBJ)
	@rm -f $@; ar rcs $@ $^
$(B)/rvf-loadctl: loader/tools/rvf_loadctl.c $(B)/librvfloader.a $(B)/librvf.a $(HDRS)
	$(CC) $(CFLAGS) -o $@ $< $(B)/librvfloader.a $(B)/librvf.a $(LDLIBS)

LIBS_N := $(B)/librvfclient.a $(B)/librvfloader.a $(B)/librvf.a
LIBS_A := $(B)/asan/librvfclient.a $(B)/asan/librvfloader.a $(B)/asan/librvf.a
$(B)/rvf: $(CLI_OBJ) $(LIBS_N)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(LIBS_N) $(LDLIBS)
$(B)/asan/rvf: $(CLI_AOBJ) $(LIBS_A)
	$(CC) $(CFLAGS) $(SAN) -o $@ $(CLI_AOBJ) $(LIBS_A) $(LDLIBS)
$(B)/rvfd: $(RVFD_OBJ) $(LIBS_N)
	$(CC) $(CFLAGS) -o $@ $(RVFD_OBJ) $(LIBS_N) $(LDLIBS)

$(B)/rvf_tests: $(TST_OBJ) $(LIBS_N) $(BPF_OBJ)
	$(CC) $(CFLAGS) -o $@ $(TST_OBJ) $(LIBS_N) $(LDLIBS)
$(B)/asan/rvf_tests: $(TST_AOBJ) $(LIBS_A) $(BPF_OBJ)
	$(CC) $(CFLAGS) $(SAN) -o $@ $(TST_AOBJ) $(LIBS_A) $(LDLIBS)

# Library objects are position-independent, so the Node addon (and any
# shared object) can link them; they are rebuilt when this file changes.
$(LIB_OBJ) $(LIB_AOBJ): CFLAGS += -fPIC
$(LIB_OBJ) $(LIB_AOBJ): Makefile

# Node binding (bindings/node, Node-API in C): one shared object with the
# library objects inside, exporting only the module entry points. The
# headers come with the installed nodejs (no node-gyp, nothing downloaded).
NODE_INC ?= /usr/include/node
NODE_SRC := $(sort $(wildcard bindings/node/src/*.c))
NODE_OBJ := $(NODE_SRC:%.c=$(B)/obj/%.o)
NODE_ADDON := $(B)/node/rvf.node
# The same under ASan/UBSan (it:node_parity loads it into node with the
# sanitizer runtimes preloaded).
NODE_AOBJ := $(NODE_SRC:%.c=$(B)/asan/%.o)
NODE_AADDON := $(B)/asan/node/rvf.node
$(NODE_OBJ) $(NODE_AOBJ): CFLAGS += -fPIC -I$(NODE_INC)
$(NODE_OBJ) $(NODE_AOBJ): $(wildcard bindings/node/src/*.h)
node: $(NODE_ADDON)
node-asan: $(NODE_AADDON)
$(NODE_ADDON): $(NODE_OBJ) $(LIB_OBJ) bindings/node/exports.map
	@test -f $(NODE_INC)/node_api.h || { echo "node_api.h not found in $(NODE_INC) (set NODE_INC)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -o $@ $(NODE_OBJ) $(LIB_OBJ) -Wl,--version-script=bindings/node/exports.map \
		-Wl,--as-needed $(LDLIBS)
$(NODE_AADDON): $(NODE_AOBJ) $(LIB_AOBJ) bindings/node/exports.map
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -shared -o $@ $(NODE_AOBJ) $(LIB_AOBJ) \
		-Wl,--version-script=bindings/node/exports.map $(LDLIBS)

# BPF: CO-RE objects against a vmlinux.h generated from the running kernel's BTF.
vmlinux/vmlinux.h: | check-deps
	@mkdir -p $(dir $@)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Iinclude -Ivmlinux \
              -I/usr/include/x86_64-linux-gnu -Wall -Werror
$(B)/bpf/%.bpf.o: bpf/%.bpf.c vmlinux/vmlinux.h $(wildcard bpf/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(B)/bpf/rvf_xdp_d%.bpf.o: bpf/rvf_xdp.bpf.c vmlinux/vmlinux.h $(wildcard bpf/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -DRVF_DIM=$* -c $< -o $@

# libFuzzer harnesses (clang, ASan+UBSan, docs/testing.md): every one links
# one archive of the decoders they reach — the library, the UDP client,
# rvfd's request parser and allow-list, the CLI's input readers — compiled
# once with coverage instrumentation. build/fuzz/ holds the harnesses only
# (scripts/run-tests.sh runs every file there).
FUZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Iuser/lib -Iuser/cli -Iuser/rvfd \
              $(PKG_CFLAGS) -fsanitize=address,undefined -fno-omit-frame-pointer
FUZ_LSRC := $(LIB_SRC) $(CLT_SRC) user/rvfd/rvfd_proto.c user/rvfd/rvfd_allow.c \
            $(filter user/cli/input_% user/cli/npy.c user/cli/json_u64.c,$(CLI_SRC))
FUZ_LOBJ := $(FUZ_LSRC:%.c=$(B)/fuzzobj/%.o)
$(B)/fuzzobj/%.o: %.c $(HDRS) | check-deps
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(B)/fuzzobj/librvf_fuzz.a: $(FUZ_LOBJ)
	@rm -f $@; ar rcs $@ $^
$(B)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(B)/fuzzobj/librvf_fuzz.a $(HDRS) | check-deps
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(B)/fuzzobj/librvf_fuzz.a $(LDLIBS)
fuzz: $(FUZ_BIN)
# Every harness for RVF_FUZZ_SECONDS (default 600) each, one after another.
fuzz-long: $(FUZ_BIN)
	RVF_TESTS_ONLY=fuzz: RVF_FUZZ_SECONDS=$${RVF_FUZZ_SECONDS:-600} scripts/run-tests.sh

# rvf.wasm, the read + query core for JavaScript runtimes (bindings/wasm/).
wasm: | check-deps
	bindings/wasm/build.sh $(B)/wasm

# Python binding (bindings/python): the extension rvf._rvf and the rvf
# package in build/python (PYTHONPATH=build/python), built by Debian's
# interpreter from build/librvf.a.
PYTHON ?= /usr/bin/python3
PY_SRC := $(wildcard bindings/python/src/*.[ch] bindings/python/rvf/*.py) bindings/python/setup.py
python: $(B)/python/.built
$(B)/python/.built: $(B)/librvf.a $(PY_SRC) include/rvf.h
	cd bindings/python && RVF_NO_MAKE=1 $(PYTHON) setup.py -q build --force --build-base ../../$(B)/python-build \
		--build-lib ../../$(B)/python
	@touch $@

test: all python $(B)/asan/rvf $(B)/asan/rvf_tests $(FUZ_BIN) $(NODE_ADDON) $(NODE_AADDON)
	scripts/run-tests.sh

bench: all
	bench/run.sh

demo: all
	scripts/demo.sh

clean:
	rm -rf $(B)
