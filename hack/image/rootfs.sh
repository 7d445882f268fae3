#!/usr/bin/env bash
# The runtime stage of deploy/Dockerfile, rebuilt without a container engine. Sourced by
# hack/image/oci-archive.sh (after lib.sh); sets no options.
#
#   rootfs::parse            reads the Dockerfile: ROOTFS_SUITE (Debian release of the base)
#   rootfs::base             debootstraps that release once (cached): ROOTFS_BASE
#   rootfs::replay ROOT      replays RUN / COPY --from=builder / ENV / USER / ENTRYPOINT / CMD on
#                            a copy of the base at ROOT: ROOTFS_USER, ROOTFS_ENV, ROOTFS_ENTRYPOINT,
#                            ROOTFS_CMD, ROOTFS_LABELS
#
# The base is `debootstrap --variant=minbase <release>` from Debian's packages, the recipe the
# debian:<release>-slim image is made from, cached in
# ~/.cache/multicluster-cloud-provider/rootfs-<release>-<arch>-<hash>.

# The ROOTFS_* results are read by the scripts that source this file.
# shellcheck disable=SC2034

ROOTFS_DOCKERFILE="$(image::repo_root)/deploy/Dockerfile"
ROOTFS_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# Joins continuation lines and drops comments: one instruction per line.
rootfs::instructions() {
  local line joined=""
  while IFS= read -r line || [[ -n "${line}" ]]; do
    [[ "${line}" =~ ^[[:space:]]*# ]] && continue
    if [[ "${line}" =~ \\[[:space:]]*$ ]]; then
      joined+="${line%\\*} "
      continue
    fi
    joined+="${line}"
    [[ -n "${joined//[[:space:]]/}" ]] && echo "${joined}"
    joined=""
  done <"${ROOTFS_DOCKERFILE}"
}

declare -A ROOTFS_ARGS=()
# Expands ${NAME} and $NAME of the build arguments known so far.
rootfs::expand() {
  local text=$1 name
  for name in "${!ROOTFS_ARGS[@]}"; do
    text="${text//\$\{${name}\}/${ROOTFS_ARGS[${name}]}}"
    text="${text//\$${name}/${ROOTFS_ARGS[${name}]}}"
  done
  echo "${text}"
}

# Reads the Dockerfile for architecture $1: the runtime stage (after the last FROM) and its base.
rootfs::parse() {
  local arch=$1 i instruction base_image
  ROOTFS_ARCH="${arch}"
  ROOTFS_ARGS=([TARGETARCH]="${arch}" [TARGETOS]=linux [TARGETPLATFORM]="linux/${arch}")
  mapfile -t ROOTFS_INSTRUCTIONS < <(rootfs::instructions)
  ROOTFS_RUNTIME_START=-1
  for i in "${!ROOTFS_INSTRUCTIONS[@]}"; do
    [[ "${ROOTFS_INSTRUCTIONS[i]}" =~ ^FROM[[:space:]] ]] && ROOTFS_RUNTIME_START=${i}
  done
  ((ROOTFS_RUNTIME_START >= 0)) || image::die "no FROM in ${ROOTFS_DOCKERFILE}"
  # Global ARGs (before the first FROM) give the base image's default.
  for instruction in "${ROOTFS_INSTRUCTIONS[@]}"; do
    [[ "${instruction}" =~ ^FROM[[:space:]] ]] && break
    if [[ "${instruction}" =~ ^ARG[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
      ROOTFS_ARGS[${BASH_REMATCH[1]}]="${BASH_REMATCH[2]}"
    fi
  done
  base_image="$(rootfs::expand "$(awk '{print $2}' <<<"${ROOTFS_INSTRUCTIONS[ROOTFS_RUNTIME_START]}")")"
  [[ "${base_image}" =~ ^(docker\.io/(library/)?)?debian:([a-z]+)(-slim)?(@sha256:[0-9a-f]+)?$ ]] ||
    image::die "the runtime stage's base ${base_image} is not debian:<release>[-slim]; only those can be rebuilt with debootstrap"
  ROOTFS_SUITE="${BASH_REMATCH[3]}"
  image::log "runtime stage: FROM ${base_image} -> debootstrap --variant=minbase ${ROOTFS_SUITE}"
}

# Builds (once, under a lock) and names the cached base root filesystem: ROOTFS_BASE, and
# ROOTFS_BASE_SECONDS, how long its first build took.
rootfs::base() {
  local cache_root key log
  cache_root="$(image::cache_root)"
  mkdir -p "${cache_root}"
  # Bump the first field when the way the base is made changes.
  key="$(printf '%s\n' 2 "${ROOTFS_SUITE}" minbase "${ROOTFS_ARCH}" "${ROOTFS_MIRROR}" | sha256sum | cut -c1-12)"
  ROOTFS_BASE="${cache_root}/rootfs-${ROOTFS_SUITE}-${ROOTFS_ARCH}-${key}"
  log="${ROOTFS_BASE}.debootstrap.log"
  (
    flock 9
    if [[ ! -f "${ROOTFS_BASE}/.complete" ]]; then
      image::log "building the base root filesystem (first run only) into ${ROOTFS_BASE}"
      local t0=${SECONDS}
      rm -rf "${ROOTFS_BASE}.partial"
      if ! debootstrap --variant=minbase --arch="${ROOTFS_ARCH}" "${ROOTFS_SUITE}" \
        "${ROOTFS_BASE}.partial" "${ROOTFS_MIRROR}" >"${log}" 2>&1; then
        tail -n 30 "${log}" >&2
        image::die "debootstrap failed (log above, full log in ${log})"
      fi
      # As the slim image: no package caches or lists.
      rm -rf "${ROOTFS_BASE}.partial"/var/cache/apt/archives/*.deb "${ROOTFS_BASE}.partial"/var/lib/apt/lists/*
      echo "$((SECONDS - t0))" >"${ROOTFS_BASE}.partial/.complete"
      rm -rf "${ROOTFS_BASE}"
      mv "${ROOTFS_BASE}.partial" "${ROOTFS_BASE}"
      image::log "base root filesystem built in $((SECONDS - t0))s ($(du -sh "${ROOTFS_BASE}" | cut -f1))"
    fi
  ) 9>"${cache_root}/rootfs.lock"
  ROOTFS_BASE_SECONDS="$(cat "${ROOTFS_BASE}/.complete")"
}

# Copies the base to $1 and replays the runtime stage on it, with the artifacts of
# `make multicluster-provider-fake` as the builder stage's /out.
rootfs::replay() {
  local root=$1 i instruction keyword rest file dest source_file words
  local bin_dir lib_dir
  bin_dir="$(image::output_bin "${ROOTFS_ARCH}")"
  lib_dir="$(image::output_lib "${ROOTFS_ARCH}")"
  local t0=${SECONDS}
  cp -a "${ROOTFS_BASE}" "${root}"
  rm -f "${root}/.complete"
  image::log "copied the base root filesystem in $((SECONDS - t0))s"

  ROOTFS_ENV=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
  ROOTFS_USER="root"
  ROOTFS_ENTRYPOINT=()
  ROOTFS_CMD=()
  ROOTFS_LABELS=()
  for ((i = ROOTFS_RUNTIME_START + 1; i < ${#ROOTFS_INSTRUCTIONS[@]}; i++)); do
    instruction="${ROOTFS_INSTRUCTIONS[i]}"
    keyword="${instruction%%[[:space:]]*}"
    rest="${instruction#"${keyword}"}"
    rest="${rest#"${rest%%[![:space:]]*}"}"
    case "${keyword^^}" in
      ARG)
        if [[ "${rest}" =~ ^([A-Za-z_][A-Za-z0-9_]*)(=(.*))?$ ]] && [[ -z "${ROOTFS_ARGS[${BASH_REMATCH[1]}]+set}" ]]; then
          ROOTFS_ARGS[${BASH_REMATCH[1]}]="${BASH_REMATCH[3]}"
        fi
        ;;
      LABEL)
        # key="value" pairs, values without embedded quotes.
        while [[ "${rest}" =~ ^([A-Za-z0-9._-]+)=\"([^\"]*)\"[[:space:]]*(.*)$ ]]; do
          ROOTFS_LABELS+=("${BASH_REMATCH[1]}=${BASH_REMATCH[2]}")
          rest="${BASH_REMATCH[3]}"
        done
        [[ -z "${rest}" ]] || image::die "only LABEL key=\"value\" ... is supported: ${instruction}"
        ;;
      ENV)
        [[ "${rest}" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] ||
          image::die "only ENV NAME=value is supported: ${instruction}"
        ROOTFS_ENV+=("$(rootfs::expand "${rest}")")
        ;;
      RUN)
        image::log "RUN $(rootfs::expand "${rest}")"
        env -i "${ROOTFS_ENV[@]}" chroot "${root}" /bin/sh -c "$(rootfs::expand "${rest}")"
        ;;
      COPY)
        read -r -a words <<<"$(rootfs::expand "${rest}")"
        [[ ${#words[@]} == 3 && "${words[0]}" == --from=builder && "${words[1]}" == /out/* ]] ||
          image::die "only COPY --from=builder /out/FILE DEST is supported: ${instruction}"
        file="${words[1]#/out/}"
        dest="${words[2]}"
        [[ "${dest}" == */ ]] && dest="${dest}${file}"
        case "${file}" in
          multicluster-provider) source_file="${bin_dir}/${file}" ;;
          *.so) source_file="${lib_dir}/${file}" ;;
          *) image::die "unknown builder output ${file}" ;;
        esac
        [[ -f "${source_file}" ]] || image::die "${source_file} is missing: run make multicluster-provider-fake"
        image::log "COPY ${source_file#"$(image::repo_root)/"} -> ${dest}"
        # Docker copies with the source's mode, owned by root.
        install -D -o 0 -g 0 -m "$(stat -c %a "${source_file}")" "${source_file}" "${root}${dest}"
        ;;
      USER) ROOTFS_USER="$(rootfs::expand "${rest}")" ;;
      ENTRYPOINT) mapfile -t ROOTFS_ENTRYPOINT < <(jq -r '.[]' <<<"${rest}") ;;
      CMD) mapfile -t ROOTFS_CMD < <(jq -r '.[]' <<<"${rest}") ;;
      *) image::die "the runtime stage uses ${keyword}, which cannot be replayed here: ${instruction}" ;;
    esac
  done
  ((${#ROOTFS_ENTRYPOINT[@]} > 0)) || image::die "the runtime stage has no exec-form ENTRYPOINT"
  [[ "${ROOTFS_USER}" =~ ^[0-9]+:[0-9]+$ ]] ||
    image::die "USER must be a numeric uid:gid (runAsNonRoot checks numbers), not ${ROOTFS_USER}"
  [[ "${ROOTFS_USER%%:*}" != 0 ]] || image::die "the image runs as root"
  image::log "USER ${ROOTFS_USER}, ENTRYPOINT ${ROOTFS_ENTRYPOINT[*]}, CMD ${ROOTFS_CMD[*]}"
}
