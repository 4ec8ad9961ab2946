################################################################################
#
# ojscog-onnxruntime
#
################################################################################

# Keep in step with scripts/fetch-models.sh and scripts/build-aarch64.sh (ort 2.0.0-rc.12 needs API 24).
OJSCOG_ONNXRUNTIME_VERSION = 1.24.4
OJSCOG_ONNXRUNTIME_SOURCE = onnxruntime-$(OJSCOG_ONNXRUNTIME_VERSION)-cp311-cp311-manylinux_2_27_aarch64.manylinux_2_28_aarch64.whl
# PyPI's stable per-file path: packages/<python tag>/<first letter>/<project>/<file>.
OJSCOG_ONNXRUNTIME_SITE = https://files.pythonhosted.org/packages/cp311/o/onnxruntime
OJSCOG_ONNXRUNTIME_LICENSE = MIT
OJSCOG_ONNXRUNTIME_INSTALL_STAGING = NO
OJSCOG_ONNXRUNTIME_DEPENDENCIES = host-python3

# A wheel is a zip: take only the shared library out of it.
define OJSCOG_ONNXRUNTIME_EXTRACT_CMDS
	$(HOST_DIR)/bin/python3 -c 'import sys, zipfile; \
		z = zipfile.ZipFile(sys.argv[1]); \
		n = "onnxruntime/capi/libonnxruntime.so.$(OJSCOG_ONNXRUNTIME_VERSION)"; \
		open(sys.argv[2] + "/libonnxruntime.so.$(OJSCOG_ONNXRUNTIME_VERSION)", "wb").write(z.read(n))' \
		$(OJSCOG_ONNXRUNTIME_DL_DIR)/$(OJSCOG_ONNXRUNTIME_SOURCE) $(@D)
endef

define OJSCOG_ONNXRUNTIME_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(@D)/libonnxruntime.so.$(OJSCOG_ONNXRUNTIME_VERSION) \
		$(TARGET_DIR)/usr/lib/ojscog/libonnxruntime.so.$(OJSCOG_ONNXRUNTIME_VERSION)
	ln -sf libonnxruntime.so.$(OJSCOG_ONNXRUNTIME_VERSION) $(TARGET_DIR)/usr/lib/ojscog/libonnxruntime.so
endef

$(eval $(generic-package))
