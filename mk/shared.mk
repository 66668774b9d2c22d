# mk/shared.mk — the libraries as outside programs get them (included by the
# Makefile after the object lists).
#
#  - The objects of librvf and librvfclient are position independent and
#    built with -fvisibility=hidden: only what include/rvf.h and
#    include/rvfclient.h declare (inside their visibility pragma) is default.
#  - build/librvf.so.MAJOR.MINOR (SONAME librvf.so.MAJOR) links those objects
#    with a version script generated from the public header
#    (scripts/gen-symbols.sh): it exports the header's functions and nothing
#    else, in one version node RVF_MAJOR.
#  - build/dist/librvf.a, the installed static archive: one relocatable
#    object (ld -r) whose hidden symbols are made local (objcopy
#    --localize-hidden), so a program linking it statically sees no internal
#    name either. build/librvf.a keeps one object per source for the in-tree
#    front ends and tests, which use the internal modules.
#  Same for librvfclient. tests/integration/install_pc.sh checks all of it.

RVF_VERSION := 0.1.0
RVF_MAJOR   := $(word 1,$(subst ., ,$(RVF_VERSION)))
RVF_MINOR   := $(word 2,$(subst ., ,$(RVF_VERSION)))

$(LIB_OBJ) $(CLT_OBJ): CFLAGS += -fPIC -fvisibility=hidden
$(LIB_OBJ) $(CLT_OBJ): mk/shared.mk   # rebuilt when these flags change

# Libraries each shared object needs at run time (see README "Install").
RVF_SO_PKGS   := jansson libsodium libisal nettle
RVF_SO_LIBS    = $(shell pkg-config --libs $(RVF_SO_PKGS) 2>/dev/null) -lm -lpthread
SO_LDFLAGS    := -shared -Wl,--no-undefined -Wl,-z,relro -Wl,-z,now -Wl,--as-needed

$(B)/rvf.map: include/rvf.h scripts/gen-symbols.sh
	@mkdir -p $(dir $@)
	CC="$(CC)" scripts/gen-symbols.sh include/rvf.h RVF_$(RVF_MAJOR) > $@.tmp && mv $@.tmp $@
$(B)/rvfclient.map: include/rvfclient.h include/rvf_wire.h scripts/gen-symbols.sh
	@mkdir -p $(dir $@)
	CC="$(CC)" scripts/gen-symbols.sh include/rvfclient.h RVFCLIENT_$(RVF_MAJOR) > $@.tmp && mv $@.tmp $@

# lib_so NAME OBJECTS LIBS: build/libNAME.so.MAJOR.MINOR and its two links.
define lib_so
$(B)/lib$(1).so.$(RVF_MAJOR).$(RVF_MINOR): $(2) $(B)/$(1).map
	$$(CC) $$(SO_LDFLAGS) -Wl,-soname,lib$(1).so.$(RVF_MAJOR) \
		-Wl,--version-script=$(B)/$(1).map -o $$@ $(2) $(3)
$(B)/lib$(1).so.$(RVF_MAJOR): $(B)/lib$(1).so.$(RVF_MAJOR).$(RVF_MINOR)
	ln -sf $$(notdir $$<) $$@
$(B)/lib$(1).so: $(B)/lib$(1).so.$(RVF_MAJOR)
	ln -sf $$(notdir $$<) $$@
$(B)/dist/lib$(1).a: $(2)
	@mkdir -p $$(dir $$@)
	$$(LD) -r -o $(B)/dist/$(1).o $(2)
	objcopy --localize-hidden $(B)/dist/$(1).o
	@rm -f $$@; ar rcs $$@ $(B)/dist/$(1).o
endef
$(eval $(call lib_so,rvf,$(LIB_OBJ),$$(RVF_SO_LIBS)))
$(eval $(call lib_so,rvfclient,$(CLT_OBJ),-lm))

SHARED_LIBS := $(B)/librvf.so $(B)/librvfclient.so $(B)/dist/librvf.a $(B)/dist/librvfclient.a
.PHONY: shared
shared: $(SHARED_LIBS)
