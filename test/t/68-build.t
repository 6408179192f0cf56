#!/bin/bash
# lrun build: the servidorweb story built layer by layer (a busybox base,
# an "Apache" layer made by RUN, index.html by COPY); v2 after v1 reuses
# the first layers from the cache (podman's "--> Using cache"), so the two
# share them in the store (image tree, system df -v); FROM, RUN, COPY, ADD
# (a directory, a tar), ENV, ARG/--build-arg, WORKDIR, USER, CMD,
# ENTRYPOINT, EXPOSE, LABEL, VOLUME, -t, -f, .dockerignore; a bad
# Containerfile or a failing RUN leaves no image and no container; COPY
# cannot reach out of the context.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/ctr-test.sh"
ctr_start 60
n_containers() { jq length "$R/overlay-containers/containers.json"; }

C=$T/ctx && mkdir -p "$C/site/css" "$T/x"
cat >"$C/Containerfile" <<EOF
FROM $IMG
ARG FLAVOUR=plain
ENV SITE=/var/www/html
# the "Apache" layer: configuration and the document root
RUN mkdir -p /etc/apache2 \$SITE && \\
    echo "ServerName web \$FLAVOUR" > /etc/apache2/apache2.conf
WORKDIR /var/www
COPY index.html html/
COPY site/ html/
ADD extra.tar /opt/
LABEL org.example.version=1
EXPOSE 80
USER 0
VOLUME /data
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /var/www/html/index.html"]
EOF
echo "<h1>v1</h1>" >"$C/index.html"
echo "body{}" >"$C/site/css/main.css"
echo secret >"$C/site/private.key"
printf '# keys stay out\n*.key\nsite/*.key\n' >"$C/.dockerignore"
echo extra >"$T/x/e.txt" && tar -C "$T/x" -cf "$C/extra.tar" e.txt

# --- v1 ----------------------------------------------------------------------------------
run L build -t localhost/web:v1 "$C"
is "$rc" 0 "build v1 exits 0"
like "$out" "^STEP 1/14: FROM $IMG${nl}STEP 2/14: ARG FLAVOUR=plain${nl}STEP 3/14: ENV SITE=/var/www/html$nl--> [0-9a-f]{12}$nl" \
	"podman's STEP lines, a --> ID after each step"
like "$out" "STEP 4/14: RUN mkdir -p /etc/apache2 \\\$SITE && +echo \"ServerName web \\\$FLAVOUR\" > /etc/apache2/apache2.conf$nl" \
	"the RUN line with its continuation joined"
like "$out" "${nl}COMMIT localhost/web:v1$nl--> [0-9a-f]{12}${nl}Successfully tagged localhost/web:v1$nl[0-9a-f]{64}$nl\$" \
	"COMMIT, Successfully tagged and the ID at the end"
V1=$(tail -1 <<<"${out%$nl}")
run L run --rm localhost/web:v1
is "$rc/$out" "0/<h1>v1</h1>$nl" "ENTRYPOINT + CMD: the built image serves its index.html"
run L run --rm localhost/web:v1 'cat /etc/apache2/apache2.conf; echo $SITE; pwd; cat html/css/main.css /opt/e.txt; ls html'
is "$out" "ServerName web plain$nl/var/www/html$nl/var/www${nl}body{}${nl}extra${nl}css${nl}index.html$nl" \
	"RUN with ENV and ARG expanded, WORKDIR, COPY of a directory's content, ADD of a tar extracted, .dockerignore"
cfg=$(L image inspect localhost/web:v1)
is "$(jq -c '.[0].Config | [.Env, .Entrypoint, .Cmd, .ExposedPorts, .Volumes, .Labels, .WorkingDir, .User]' <<<"$cfg")" \
	'[["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","SITE=/var/www/html"],["/bin/sh","-c"],["cat /var/www/html/index.html"],{"80/tcp":{}},{"/data":{}},{"org.example.version":"1"},"/var/www","0"]' \
	"the config: ENV, ENTRYPOINT, CMD, EXPOSE, VOLUME, LABEL, WORKDIR, USER"
is "$(jq -r '.[0].RootFS.Layers | length' <<<"$cfg")" 7 "a layer per filesystem step: the base's 3, RUN, COPY, COPY, ADD"
run L history --no-trunc --format '{{.CreatedBy}}' localhost/web:v1
like "$out" "^/bin/sh -c #\\(nop\\) CMD \\[\"cat /var/www/html/index.html\"\\]$nl" "history: newest first, as buildah writes it"
is "$(n_containers)" 0 "no container is left from the steps"

# --- v2: the cache ------------------------------------------------------------------------
echo "<h1>v2</h1>" >"$C/index.html"
run L build -t localhost/web:v2 "$C"
is "$rc" 0 "build v2 exits 0"
is "$(grep -c '^--> Using cache [0-9a-f]\{64\}$' <<<"$out")" 3 "v2 takes ENV, the Apache RUN and WORKDIR from the cache"
like "$out" "STEP 4/14: RUN [^$nl]*$nl--> Using cache [0-9a-f]{64}$nl" "… podman's \"--> Using cache\" for the RUN"
run L run --rm localhost/web:v2
is "$out" "<h1>v2</h1>$nl" "v2 serves the new page"
l1=$(jq -r '.[] | select(.names[0] == "localhost/web:v1") | .layer' "$R/overlay-images/images.json")
l2=$(jq -r '.[] | select(.names[0] == "localhost/web:v2") | .layer' "$R/overlay-images/images.json")
chain() { local id=$1; while [ -n "$id" ] && [ "$id" != null ]; do echo "$id"; id=$(jq -r --arg i "$id" '.[] | select(.id == $i) | .parent // empty' "$R/overlay-layers/layers.json"); done; }
shared=$(comm -12 <(chain "$l1" | sort) <(chain "$l2" | sort) | wc -l)
is "$shared" 4 "v1 and v2 share the base's three layers and the Apache layer"
run L image tree localhost/web:v2
like "$out" "Top Layer of: \\[$IMG\\]" "image tree shows the shared chain"
run L system df -v
like "$out" "${nl}localhost/web +v2 +[0-9a-f]{12} .* [0-9.]+[kM]B +[0-9.]+[kM]B +[0-9.]+[kM]?B +0$nl" "system df -v lists v2 with a shared size"
run L build -q -t localhost/web:v2b "$C"
is "$out" "$(jq -r '.[] | select(.names[0] == "localhost/web:v2") | .id' "$R/overlay-images/images.json")$nl" \
	"-q: only the ID; the same steps give the same image"

# --- -f, --build-arg, Dockerfile ------------------------------------------------------------
mkdir -p "$T/c2" && printf 'FROM %s\nARG FLAVOUR=plain\nRUN echo "$FLAVOUR" > /flavour\n' "$IMG" >"$T/c2/Dockerfile"
run L build -t localhost/arg:1 --build-arg FLAVOUR=spicy "$T/c2"
is "$rc/$(L run --rm localhost/arg:1 cat /flavour)" "0/spicy" "a Dockerfile, --build-arg over the ARG's default"
cp "$T/c2/Dockerfile" "$T/other.file"
run L build -f "$T/other.file" -t localhost/arg:2 "$T/c2"
is "$rc/$(L run --rm localhost/arg:2 cat /flavour)" "0/plain" "-f names the file; the default ARG"

# --- failures leave nothing ------------------------------------------------------------------
images_before=$(jq length "$R/overlay-images/images.json")
printf 'FROM %s\nRUN echo hi\nFROBNICATE now\n' "$IMG" >"$T/c2/Dockerfile"
run L build -t localhost/bad:1 "$T/c2"
is "$rc" 125 "an unknown instruction: 125"
like "$err" "unknown instruction: FROBNICATE" "… named"
is "$out" "" "… before any step runs"
printf 'FROM %s\nRUN echo partial > /p\nRUN exit 3\nCMD ["x"]\n' "$IMG" >"$T/c2/Dockerfile"
run L build -t localhost/bad:2 "$T/c2"
is "$rc" 3 "a failing RUN: the build fails with its status"
like "$err" 'building at STEP "RUN exit 3": while running runtime: exit status 3' "… podman's message"
is "$(n_containers)" 0 "no stray container"
run L images --format '{{.Repository}}:{{.Tag}}'
is "$(grep -c 'localhost/bad' <<<"$out")" 0 "no image by the new name"
printf 'FROM %s\nCOPY ../../../etc/passwd /stolen\n' "$IMG" >"$T/c2/Dockerfile"
run L build -t localhost/bad:3 "$T/c2"
is "$rc" 125 "COPY of a path above the context fails"
printf 'FROM %s\nCOPY site/private.key /k\n' "$IMG" >"$C/Containerfile.k"
run L build -f "$C/Containerfile.k" -t localhost/bad:4 "$C"
is "$rc" 125 "COPY of a file .dockerignore names fails"
ln -s /etc "$C/etc-link"
printf 'FROM %s\nCOPY etc-link/passwd /stolen\n' "$IMG" >"$C/Containerfile.l"
run L build -f "$C/Containerfile.l" -t localhost/bad:5 "$C"
is "$rc" 125 "COPY through a link out of the context fails"
is "$(n_containers)" 0 "still no stray container"
is "$(mounts_below "$R" | wc -l)" 0 "no mount left behind"

done_testing
