# Onsen container image: a drop-in for registry:2 (same entrypoint/cmd shape, same config path,
# same volume and port). Built FROM scratch from a staged root filesystem, so no base image is
# pulled and no compiler, shell or package manager ends up in the image:
#
#   scripts/stage-image.sh build/onsen build/image
#   docker build -t onsen:latest build/image        (or: buildah bud -t onsen:latest build/image)
#
# The rootfs holds /usr/bin/onsen, the shared libraries it links (with the dynamic loader),
# /etc/docker/registry/config.yml (Distribution's default), an empty /var/lib/registry and /tmp.
# It runs as root like registry:2, so existing bind mounts keep working unchanged.
FROM scratch
COPY rootfs/ /
VOLUME ["/var/lib/registry"]
EXPOSE 5000
ENTRYPOINT ["/usr/bin/onsen"]
CMD ["serve", "/etc/docker/registry/config.yml"]
