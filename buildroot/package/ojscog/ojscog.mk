################################################################################
#
# ojscog
#
################################################################################

OJSCOG_VERSION = 0.1.0
# This repository itself (the external tree is its buildroot/ directory).
OJSCOG_SITE = $(BR2_EXTERNAL_OJSCOG_PATH)/..
OJSCOG_SITE_METHOD = local
OJSCOG_LICENSE = GPL-3.0+
OJSCOG_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude target --exclude ojscog-data --exclude buildroot/output --exclude .git

OJSCOG_FEATURES = $(if $(BR2_PACKAGE_OJSCOG_LLM),llm) $(if $(BR2_PACKAGE_OJSCOG_EMBEDDINGS),embeddings)
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

# A local source is not "downloaded", so the cargo vendoring that Buildroot does as a download post-process
# is done after the rsync (the same command as support/download/cargo-post-process).
define OJSCOG_CARGO_VENDOR_LOCAL
	cd $(@D) && mkdir -p .cargo && \
	$(HOST_MAKE_ENV) CARGO_HOME=$(HOST_DIR)/share/cargo $(HOST_DIR)/bin/cargo vendor --locked VENDOR \
		> .cargo/config.toml
endef
OJSCOG_POST_RSYNC_HOOKS += OJSCOG_CARGO_VENDOR_LOCAL
OJSCOG_DEPENDENCIES += host-rustc

$(eval $(cargo-package))
