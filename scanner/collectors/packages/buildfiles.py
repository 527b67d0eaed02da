"""Dependencies a Java project declares: Maven's ``pom.xml`` and Gradle's ``build.gradle(.kts)``.

A Spring AI application that talks to DeepSeek says so in its build file
(``org.springframework.ai:spring-ai-starter-model-deepseek``) before any class is compiled; each
declared dependency is a package of the ``maven`` ecosystem in the project's environment, judged like
an installed one. The files are read as text, bounded, with our own few lines: a ``<dependency>``
element's first ``groupId``/``artifactId``/``version`` (its exclusions come after them), and Gradle's
``implementation 'group:artifact:version'`` in either syntax. No XML parser expands entities here, and
nothing is built or run. Build files inside installed trees (the Maven and Gradle caches) are not read:
those are downloaded libraries, not the project's own choices.
"""

from __future__ import annotations

from scanner.collectors.interface import CollectOptions, Collector, CollectorResult
from scanner.ecosystems import ECOSYSTEMS, Ecosystem, EnvironmentKind
from scanner.fsview import FileRefused, RootFS, describe_refusal, refusal_kind
from scanner.patterns import LazyPattern
from scanner.records import Environment, Location, PackageRecord, Skipped
from scanner.visitors import Entry, Interest

BUILD_FILE_CAP = 1 << 20
"""A build file is tens of KiB; the head of a larger one is what a project declares."""
DEPENDENCIES_PER_FILE = 2000
BUILD_FILES = frozenset({"pom.xml", "build.gradle", "build.gradle.kts"})
_INSTALLED = ("/.m2/repository/", "/.gradle/caches/", "/.gradle/wrapper/")
_ELEMENT = {
    tag: LazyPattern(rf"<{tag}>\s*([^<\s]{{1,200}})\s*</{tag}>") for tag in ("groupId", "artifactId", "version")
}
_GRADLE = LazyPattern(
    r"\b(?:implementation|api|compileOnly|runtimeOnly|testImplementation|testRuntimeOnly|annotationProcessor|kapt|"
    r"ksp|compile|developmentOnly)\s*\(?\s*(?:platform\(\s*|enforcedPlatform\(\s*)?[\"']"
    r"([\w.-]{1,200}):([\w.-]{1,200})(?::([\w.${}+-]{1,100}))?[\"']"
)


def maven_dependencies(text: str) -> list[tuple[str, str, str | None]]:
    """``(group, artifact, version)`` of each ``<dependency>`` of a POM, in order; a version that is a
    property reference (``${spring-ai.version}``) is unknown here."""
    found: list[tuple[str, str, str | None]] = []
    at = text.find("<dependency>")
    while at >= 0 and len(found) < DEPENDENCIES_PER_FILE:
        end = text.find("</dependency>", at)
        if end < 0:
            break
        block = text[at:end]
        group, artifact, version = (_ELEMENT[tag].search(block) for tag in ("groupId", "artifactId", "version"))
        if group and artifact:
            written = version.group(1) if version else None
            found.append((group.group(1), artifact.group(1), None if written is None or "$" in written else written))
        at = text.find("<dependency>", end)
    return found


def gradle_dependencies(text: str) -> list[tuple[str, str, str | None]]:
    """``(group, artifact, version)`` of each dependency a Gradle build script declares by coordinates."""
    found = []
    for match in _GRADLE.finditer(text):
        version = match.group(3)
        found.append((match.group(1), match.group(2), None if version is None or "$" in version else version))
        if len(found) == DEPENDENCIES_PER_FILE:
            break
    return found


class BuildFileCollector(Collector):
    """The dependencies Java projects declare in their Maven and Gradle build files."""

    id = "build-file-collector"
    interest = Interest(file_names=BUILD_FILES)

    def __init__(self, fs: RootFS, options: CollectOptions | None = None) -> None:
        super().__init__(fs, options)
        self._records: list[PackageRecord] = []
        self._skipped: list[Skipped] = []

    def visit(self, entry: Entry) -> None:
        if any(part in entry.path for part in _INSTALLED):
            return
        try:
            text, _ = self.fs.read_text(entry.real_path, BUILD_FILE_CAP)
        except (OSError, FileRefused) as error:
            reason = f"build file unreadable: {describe_refusal(error)}"
            self._skipped.append(Skipped(entry.path, reason, refusal_kind(error)))
            return
        declared = maven_dependencies(text) if entry.name == "pom.xml" else gradle_dependencies(text)
        project = entry.path.rsplit("/", 1)[0] or "/"
        rules = ECOSYSTEMS[Ecosystem.MAVEN]
        for group, artifact, version in dict.fromkeys(declared):
            name = f"{group}:{artifact}"
            self._records.append(
                PackageRecord(
                    name=name,
                    normalized_name=rules.normalize(name),
                    version=version,
                    ecosystem=Ecosystem.MAVEN,
                    environment=Environment(project, EnvironmentKind.MANIFEST),
                    locations=(Location(entry.path),),
                    found_by=self.id,
                    extra=(("metadata_format", entry.name),),
                )
            )

    def finish(self) -> CollectorResult:
        return CollectorResult(records=list(self._records), skipped=self._skipped)
