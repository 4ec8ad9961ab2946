################################################################################
#
# ojscog
#
################################################################################

OJSCOG_VERSION = 0.1.0
# This repository itself (the external tree is its buildroot/ directory): the tree's one path out of itself
# (tests/image/check_tree.py allows no other way out of the tree).
OJSCOG_SITE = $(BR2_EXTERNAL_OJSCOG_PATH)/..
OJSCOG_SITE_METHOD = local
OJSCOG_LICENSE = GPL-3.0+
OJSCOG_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude target --exclude ojscog-data --exclude buildroot/output --exclude .git

OJSCOG_FEATURES = $(if $(BR2_PACKAGE_OJSCOG_LLM),llm) $(if $(BR2_PACKAGE_OJSCOG_EMBEDDINGS),embeddings) \
	$(if $(BR2_PACKAGE_OJSCOG_VOICE),voice)
OJSCOG_FEATURES_LIST = $(subst $(space),$(comma),$(strip $(OJSCOG_FEATURES)))
ifneq ($(OJSCOG_FEATURES_LIST),)
OJSCOG_CARGO_BUILD_OPTS += --features $(OJSCOG_FEATURES_LIST)
OJSCOG_CARGO_INSTALL_OPTS += --features $(OJSCOG_FEATURES_LIST)
endif

ifeq ($(BR2_PACKAGE_OJSCOG_LLM),y)
OJSCOG_DEPENDENCIES += host-cmake host-clang
# bindgen parses the target's headers; a portable armv8 baseline serves Pi 4 and Pi 5.
OJSCOG_CARGO_ENV += \
	LIBCLANG_PATH=$(HOST_DIR)/lib \
	BINDGEN_EXTRA_CLANG_ARGS="--sysroot=$(STAGING_DIR)" \
	GGML_NATIVE=OFF
endif

ifeq ($(BR2_PACKAGE_OJSCOG_EMBEDDINGS),y)
OJSCOG_DEPENDENCIES += ojscog-onnxruntime
endif

ifeq ($(BR2_PACKAGE_OJSCOG_VOICE),y)
OJSCOG_DEPENDENCIES += ojscog-sherpa-onnx ojscog-sonic ojscog-espeak-ng-data alsa-lib host-cmake host-clang
# sherpa-rs-sys (patches/) makes its bindings from the wheel's own header and links its C API; piper-rs's espeak-ng
# is built by cmake against the staging libsonic (never cloned).
OJSCOG_CARGO_ENV += \
	SHERPA_LIB_PATH=$(OJSCOG_SHERPA_ONNX_DIR)/sherpa_onnx \
	LIBCLANG_PATH=$(HOST_DIR)/lib \
	BINDGEN_EXTRA_CLANG_ARGS="--sysroot=$(STAGING_DIR)" \
	CMAKE_PREFIX_PATH=$(STAGING_DIR)/usr
endif

# A local source is not "downloaded", so the cargo vendoring that Buildroot does as a download post-process
# is done after the rsync (the same command as support/download/cargo-post-process).
define OJSCOG_CARGO_VENDOR_LOCAL
	cd $(@D) && mkdir -p .cargo && \
	$(HOST_MAKE_ENV) CARGO_HOME=$(HOST_DIR)/share/cargo $(HOST_DIR)/bin/cargo vendor --locked VENDOR \
		> .cargo/config.toml
endef
OJSCOG_POST_RSYNC_HOOKS += OJSCOG_CARGO_VENDOR_LOCAL
OJSCOG_DEPENDENCIES += host-rustc

# The image's release version, which scripts/post-build.sh writes into /etc/ojscog-release: the crate version of the
# copy that was built and the git revision of its source, recorded here since this package is what knows the source.
define OJSCOG_INSTALL_SOURCE_VERSION
	mkdir -p $(TARGET_DIR)/usr/lib/ojscog
	printf '%s+%s\n' \
		"$$(sed -n 's/^version *= *"\(.*\)"/\1/p' $(@D)/Cargo.toml | head -1)" \
		"$$(git -C $(OJSCOG_SITE) rev-parse --short HEAD 2>/dev/null || echo nogit)" \
		> $(TARGET_DIR)/usr/lib/ojscog/source-version
endef
OJSCOG_POST_INSTALL_TARGET_HOOKS += OJSCOG_INSTALL_SOURCE_VERSION

$(eval $(cargo-package))
