# mk/install.mk — man pages, `make install` and `make uninstall` (included by
# the Makefile). Layout (README "Install"):
#   make install [PREFIX=/usr/local] [DESTDIR=stage] [LIBDIR=...] [...]
# Every path below is overridable on the command line. `make uninstall` with
# the same variables removes exactly the files install wrote, then the
# directories that only rvf uses (when empty).

PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
SBINDIR       ?= $(PREFIX)/sbin
LIBDIR        ?= $(PREFIX)/lib
INCLUDEDIR    ?= $(PREFIX)/include
PKGCONFIGDIR  ?= $(LIBDIR)/pkgconfig
MANDIR        ?= $(PREFIX)/share/man
DOCDIR        ?= $(PREFIX)/share/doc/rvf
SYSCONFDIR    ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR       ?= $(PREFIX)/lib/systemd/system
# Not overridable: rvf and rvfd look for their BPF objects in
# <directory of the binary>/../lib/rvf/bpf (loader/bpf_dir.c).
RVF_BPFDIR    := $(PREFIX)/lib/rvf/bpf

MAN_PAGES := $(B)/man/rvf.1 $(B)/man/rvfd.8
$(B)/man/%: docs/man/%.scd | check-deps
	@mkdir -p $(dir $@)
	scdoc < $< > $@.tmp && mv $@.tmp $@
.PHONY: man install uninstall
man: $(MAN_PAGES)

INSTALL ?= install
D := $(DESTDIR)
SOV := $(RVF_MAJOR).$(RVF_MINOR)
INST_HEADERS := include/rvf.h include/rvfclient.h include/rvf_wire.h
INST_BPF_OBJ := $(filter $(B)/bpf/rvf_%,$(BPF_OBJ))
INST_BPF     := $(notdir $(INST_BPF_OBJ))
# @VAR@ substitution for the templates in packaging/.
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@VERSION@|$(RVF_VERSION)|g'

install: check-deps $(B)/rvf $(RVFD_BIN) $(SHARED_LIBS) $(MAN_PAGES) $(BPF_OBJ)
	$(INSTALL) -d $(D)$(BINDIR) $(D)$(SBINDIR) $(D)$(LIBDIR) $(D)$(INCLUDEDIR) \
		$(D)$(PKGCONFIGDIR) $(D)$(MANDIR)/man1 $(D)$(MANDIR)/man8 $(D)$(UNITDIR) \
		$(D)$(RVF_BPFDIR) $(D)$(DOCDIR)
	$(INSTALL) -m 0755 $(B)/rvf $(D)$(BINDIR)/rvf
	$(INSTALL) -m 0755 $(B)/rvfd $(D)$(SBINDIR)/rvfd
	for l in rvf rvfclient; do \
		$(INSTALL) -m 0755 $(B)/lib$$l.so.$(SOV) $(D)$(LIBDIR)/lib$$l.so.$(SOV) && \
		ln -sfn lib$$l.so.$(SOV) $(D)$(LIBDIR)/lib$$l.so.$(RVF_MAJOR) && \
		ln -sfn lib$$l.so.$(RVF_MAJOR) $(D)$(LIBDIR)/lib$$l.so && \
		$(INSTALL) -m 0644 $(B)/dist/lib$$l.a $(D)$(LIBDIR)/lib$$l.a && \
		$(SUBST) packaging/$$l.pc.in > $(D)$(PKGCONFIGDIR)/$$l.pc || exit 1; \
	done
	$(INSTALL) -m 0644 $(INST_HEADERS) $(D)$(INCLUDEDIR)/
	$(INSTALL) -m 0644 $(B)/man/rvf.1 $(D)$(MANDIR)/man1/rvf.1
	$(INSTALL) -m 0644 $(B)/man/rvfd.8 $(D)$(MANDIR)/man8/rvfd.8
	$(SUBST) packaging/rvfd@.service.in > $(D)$(UNITDIR)/rvfd@.service
	chmod 0644 $(D)$(UNITDIR)/rvfd@.service $(D)$(PKGCONFIGDIR)/rvf.pc \
		$(D)$(PKGCONFIGDIR)/rvfclient.pc
	$(INSTALL) -m 0644 $(INST_BPF_OBJ) $(D)$(RVF_BPFDIR)/
	$(INSTALL) -m 0644 packaging/rvfd.conf.example $(D)$(DOCDIR)/rvfd.conf.example
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
		ldconfig; fi

uninstall:
	rm -f $(D)$(BINDIR)/rvf $(D)$(SBINDIR)/rvfd
	for l in rvf rvfclient; do \
		rm -f $(D)$(LIBDIR)/lib$$l.so.$(SOV) $(D)$(LIBDIR)/lib$$l.so.$(RVF_MAJOR) \
			$(D)$(LIBDIR)/lib$$l.so $(D)$(LIBDIR)/lib$$l.a $(D)$(PKGCONFIGDIR)/$$l.pc; \
	done
	rm -f $(addprefix $(D)$(INCLUDEDIR)/,$(notdir $(INST_HEADERS)))
	rm -f $(D)$(MANDIR)/man1/rvf.1 $(D)$(MANDIR)/man8/rvfd.8 $(D)$(UNITDIR)/rvfd@.service
	rm -f $(addprefix $(D)$(RVF_BPFDIR)/,$(INST_BPF)) $(D)$(DOCDIR)/rvfd.conf.example
	-rmdir $(D)$(RVF_BPFDIR) $(D)$(PREFIX)/lib/rvf $(D)$(DOCDIR) 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
		ldconfig; fi
