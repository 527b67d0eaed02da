<#
.SYNOPSIS
Installs the scanner agent on Windows: a venv under C:\Program Files\scanner, the agent
configuration C:\ProgramData\scanner\agent.yaml, and the scheduled task \scanner-audit (daily, as
SYSTEM). README.md beside this script lists every change and how to undo it.

.DESCRIPTION
Not run on Windows by the project's tests: only scanner-audit.xml is checked there (it parses and
has the expected elements). Try it on one machine before a fleet.

.EXAMPLE
.\install.ps1 -Wheelhouse .\scanner-wheelhouse-0.1.0-cp312-win_amd64.tar.gz -Collector https://collector.example.gov:8443 -TokenFrom .\web-01.token -Tag department=finance,site=hq

.EXAMPLE
.\install.ps1 -Wheelhouse .\scanner-wheelhouse-0.1.0-cp312-win_amd64.tar.gz -Collector https://collector.example.gov:8443 -TokenFrom .\web-01.token -PolicyKey C:\ProgramData\scanner\policy.pub

.EXAMPLE
.\install.ps1 -Uninstall          # keeps C:\ProgramData\scanner; add -Purge to remove it too
#>
#Requires -Version 5.1
#Requires -RunAsAdministrator
[CmdletBinding()]
param(
    # The scanner wheel; its dependencies come from the configured index, or only from -FindLinks.
    [string]$Wheel,
    # A tarball from installers/build-wheelhouse.sh built for Windows (--platform win_amd64): offline;
    # with the text scan's accelerator (google-re2) when the wheelhouse has it (its file EXTRAS says "fast").
    [string]$Wheelhouse,
    # Install scanner without the accelerator even when the wheelhouse has it.
    [switch]$NoAccelerator,
    [string]$FindLinks,
    # A Python 3.10+ installed for all users; default: the newest one 'py -3' finds.
    [string]$Python,
    [string]$Collector,
    [string]$TokenFile,
    # Copies this host's token into -TokenFile (readable by SYSTEM and Administrators only).
    [string]$TokenFrom,
    [string]$CaCert,
    # Judge by the -Collector's signed policy bundle, verified with this public key file already on
    # the machine (not copied: like -CaCert, one public file for the whole fleet); not with -Policy.
    [string]$PolicyKey,
    [string[]]$Policy = @(),
    [string[]]$Path = @(),
    [string[]]$Exclude = @(),
    # KEY=VALUE labels for the fleet views: -Tag department=finance,site=hq
    [string[]]$Tag = @(),
    # Replace an existing agent.yaml.
    [switch]$Force,
    # Install without registering the scheduled task.
    [switch]$NoTask,
    [string]$Prefix = (Join-Path $env:ProgramFiles 'scanner'),
    [string]$DataDir = (Join-Path $env:ProgramData 'scanner'),
    [switch]$Uninstall,
    # With -Uninstall: also remove -DataDir (configuration, token, store, last report).
    [switch]$Purge
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$TaskName = 'scanner-audit'
# The paths written in scanner-audit.xml; replaced when -Prefix or -DataDir differ.
$DefaultPrefix = 'C:\Program Files\scanner'
$DefaultDataDir = 'C:\ProgramData\scanner'
$Here = $PSScriptRoot
$Prefix = $Prefix.TrimEnd('\')
$DataDir = $DataDir.TrimEnd('\')
if (-not $TokenFile) { $TokenFile = Join-Path $DataDir 'token' }
$ConfigFile = Join-Path $DataDir 'agent.yaml'
$Scanner = Join-Path $Prefix 'Scripts\scanner.exe'

function Say([string]$Message) { Write-Host "install.ps1: $Message" }
function Fail([string]$Message) { throw "install.ps1: error: $Message" }

# Runs a program and fails on a non-zero exit code (native programs do not throw by themselves).
function Invoke-Program([string]$Program, [string[]]$Arguments) {
    & $Program @Arguments
    if ($LASTEXITCODE -ne 0) { Fail "$Program $($Arguments -join ' ') exited with $LASTEXITCODE" }
}

function Test-ScannerVenv([string]$Dir) {
    (Test-Path -LiteralPath (Join-Path $Dir 'pyvenv.cfg')) -and (Test-Path -LiteralPath (Join-Path $Dir 'Scripts\scanner.exe'))
}

function Find-Python {
    # Windows PowerShell turns a native program's stderr into errors when it is redirected.
    $ErrorActionPreference = 'Continue'
    if ($Python) { $candidates = @(, @($Python)) } else { $candidates = @(@('py', '-3'), @('python')) }
    foreach ($candidate in $candidates) {
        $program = $candidate[0]
        $before = @($candidate | Select-Object -Skip 1)
        if (-not (Get-Command $program -ErrorAction SilentlyContinue)) { continue }
        $answer = @(& $program @before -c 'import sys, venv, ensurepip; print(sys.executable); print(sys.version_info >= (3, 10))' 2>$null)
        if ($LASTEXITCODE -eq 0 -and $answer.Count -ge 2 -and $answer[1] -eq 'True') {
            $found = $answer[0]
            if ($found -like "$env:SystemDrive\Users\*" -or $found -like '*\WindowsApps\*') {
                Say "warning: $found is installed for one user; the task runs as SYSTEM and the venv depends on it: prefer a Python installed for all users"
            }
            return $found
        }
    }
    Fail 'no Python 3.10 or later found: install one for all users (python.org installer, "Install for all users") or name it with -Python'
}

# pip with nothing from the machine taking part: no pip.ini, no PIP_* variables, no index.
function Invoke-HermeticPip([string]$VenvPython, [string]$Links, [string]$Target) {
    $saved = $env:PIP_CONFIG_FILE
    $env:PIP_CONFIG_FILE = 'nul'   # os.devnull on Windows: pip then reads no configuration file
    try {
        Invoke-Program $VenvPython @('-I', '-m', 'pip', '--isolated', '--disable-pip-version-check', 'install',
            '--no-index', '--no-cache-dir', '--no-warn-script-location', '-q', '--find-links', $Links, $Target)
    } finally {
        $env:PIP_CONFIG_FILE = $saved
    }
}

function Open-Wheelhouse([string]$Tarball, [string]$Work) {
    if (Test-Path -LiteralPath $Tarball -PathType Container) {
        $folder = (Resolve-Path -LiteralPath $Tarball).Path
    } else {
        # System32's bsdtar: a Git for Windows tar on PATH would read C:\... as a remote host.
        Invoke-Program (Join-Path $env:SystemRoot 'System32\tar.exe') @('-xzf', $Tarball, '-C', $Work)
        $sums = @(Get-ChildItem -LiteralPath $Work -Recurse -Filter SHA256SUMS)
        if ($sums.Count -ne 1) { Fail "-Wheelhouse ${Tarball}: no SHA256SUMS inside; build it with installers/build-wheelhouse.sh" }
        $folder = $sums[0].DirectoryName
    }
    $sumsFile = Join-Path $folder 'SHA256SUMS'
    if (Test-Path -LiteralPath $sumsFile) {
        foreach ($line in Get-Content -LiteralPath $sumsFile) {
            if (-not $line) { continue }
            $digest, $name = $line -split '  ', 2
            $file = Join-Path $folder $name.TrimStart('*')
            if (-not (Test-Path -LiteralPath $file) -or (Get-FileHash -LiteralPath $file -Algorithm SHA256).Hash -ne $digest.ToUpperInvariant()) {
                Fail "-Wheelhouse ${Tarball}: $name is missing or its SHA-256 differs from SHA256SUMS"
            }
        }
    }
    $wheels = @(Get-ChildItem -LiteralPath $folder -Filter 'scanner-*.whl')
    if ($wheels.Count -ne 1) { Fail "-Wheelhouse ${Tarball}: expected exactly one scanner-*.whl inside" }
    # build-wheelhouse.sh writes EXTRAS ("fast") when the accelerator's wheels are inside.
    $extrasFile = Join-Path $folder 'EXTRAS'
    $extras = @()
    if (Test-Path -LiteralPath $extrasFile) { $extras = @(Get-Content -LiteralPath $extrasFile | ForEach-Object { $_.Trim() }) }
    return @{ Folder = $folder; Wheel = $wheels[0].FullName; Name = (Split-Path -Leaf $folder); Fast = ($extras -contains 'fast') }
}

# Whether the venv's Python imports google-re2, the text scan's accelerator.
function Test-Accelerator([string]$VenvPython) {
    $ErrorActionPreference = 'Continue'
    & $VenvPython -I -c 'import re2' 2>$null | Out-Null
    return $LASTEXITCODE -eq 0
}

function ConvertTo-YamlScalar($Value) {
    # JSON is YAML: strings come out double-quoted with backslashes escaped (C:\\ProgramData\\...).
    ConvertTo-Json -InputObject $Value -Compress
}

function Write-AgentConfig {
    $lines = @(
        '# The scanner agent''s configuration, written by install.ps1.',
        '# Keys are `scanner audit` option names (see `scanner audit --help`); the command line wins.'
    )
    if ($Collector) {
        $lines += "submit: $(ConvertTo-YamlScalar $Collector)"
        $lines += "token_file: $(ConvertTo-YamlScalar $TokenFile)"
    }
    if ($CaCert) { $lines += "ca_cert: $(ConvertTo-YamlScalar $CaCert)" }
    if ($PolicyKey) { $lines += "policy_key: $(ConvertTo-YamlScalar $PolicyKey)" }
    if ($Policy) { $lines += "policy: $(ConvertTo-YamlScalar @($Policy))" }
    if ($Path) { $lines += "paths: $(ConvertTo-YamlScalar @($Path))" }
    if ($Exclude) { $lines += "exclude: $(ConvertTo-YamlScalar @($Exclude))" }
    # As SYSTEM the store would otherwise land in the SYSTEM profile's AppData.
    $lines += "db: $(ConvertTo-YamlScalar (Join-Path $DataDir 'scanner.db'))"
    if ($Tag) {
        $tags = [ordered]@{}
        foreach ($pair in $Tag) {
            $name, $value = $pair -split '=', 2
            if (-not $name -or $null -eq $value) { Fail "-Tag ${pair}: expected KEY=VALUE, e.g. department=finance" }
            $tags[$name.Trim()] = $value.Trim()
        }
        $lines += "tags: $(ConvertTo-YamlScalar $tags)"
    }
    # UTF-8 without a byte order mark (Windows PowerShell's -Encoding UTF8 would add one).
    [System.IO.File]::WriteAllText($ConfigFile, (($lines -join "`n") + "`n"), (New-Object System.Text.UTF8Encoding $false))
}

function Test-AgentConfig {
    $ErrorActionPreference = 'Continue'
    $problem = & $Scanner audit --config $ConfigFile --help 2>&1 | Out-String
    if ($LASTEXITCODE -ne 0) { return $problem.Trim() }
    return $null
}

function Register-AuditTask {
    $xml = Get-Content -LiteralPath (Join-Path $Here 'scanner-audit.xml') -Raw -Encoding UTF8
    # The declaration names UTF-8 but Register-ScheduledTask receives a .NET (UTF-16) string, and
    # the comments are for readers: both go.
    $xml = $xml -replace '^\s*<\?xml[^>]*\?>', '' -replace '(?s)<!--.*?-->', ''
    $xml = $xml.Replace($DefaultPrefix, [Security.SecurityElement]::Escape($Prefix))
    $xml = $xml.Replace($DefaultDataDir, [Security.SecurityElement]::Escape($DataDir))
    Register-ScheduledTask -TaskName $TaskName -TaskPath '\' -Xml $xml -Force | Out-Null
    Say "registered the scheduled task \$TaskName (daily, as SYSTEM; Get-ScheduledTaskInfo $TaskName shows the next run)"
}

function Remove-AuditTask {
    $task = Get-ScheduledTask -TaskName $TaskName -TaskPath '\' -ErrorAction SilentlyContinue
    if ($task) {
        Stop-ScheduledTask -TaskName $TaskName -TaskPath '\' -ErrorAction SilentlyContinue
        Unregister-ScheduledTask -TaskName $TaskName -TaskPath '\' -Confirm:$false
        Say "removed the scheduled task \$TaskName"
    }
}

if ($Uninstall) {
    Remove-AuditTask
    if (Test-Path -LiteralPath $Prefix) {
        if (Test-ScannerVenv $Prefix) {
            Remove-Item -LiteralPath $Prefix -Recurse -Force
            Say "removed $Prefix"
        } else {
            Say "warning: $Prefix is not a scanner venv; left in place"
        }
    } else {
        Say "nothing installed at $Prefix"
    }
    if ($Purge) {
        if ((Split-Path -Leaf $DataDir) -like '*scanner*') {
            if (Test-Path -LiteralPath $DataDir) { Remove-Item -LiteralPath $DataDir -Recurse -Force }
            Say "removed $DataDir"
        } else {
            Say "warning: -Purge only removes a folder named after scanner; remove $DataDir yourself"
        }
    } else {
        Say "kept $DataDir (-Purge removes it)"
    }
    return
}

if (-not $Wheel -and -not $Wheelhouse) { Fail 'name what to install: -Wheel FILE or -Wheelhouse FILE.tar.gz' }
if ($Wheel -and $Wheelhouse) { Fail '-Wheel and -Wheelhouse exclude each other' }
if ($Collector -and $Collector -notmatch '^https?://') { Fail "-Collector ${Collector}: expected an https:// URL" }
if ($PolicyKey) {
    # The task runs in System32: a relative path in agent.yaml would be read from there.
    if (-not [System.IO.Path]::IsPathRooted($PolicyKey)) { Fail "-PolicyKey ${PolicyKey}: must be an absolute path" }
    if (-not $Collector) { Fail "-PolicyKey verifies the signed policy bundle of the -Collector: it needs -Collector URL" }
    if ($Policy) { Fail "-PolicyKey judges by the collector's signed policy bundle: it cannot be used with -Policy" }
}

$work = Join-Path ([System.IO.Path]::GetTempPath()) ("scanner-install-" + [guid]::NewGuid())
New-Item -ItemType Directory -Path $work | Out-Null
$previous = $null
$house = $null
$fast = $false
try {
    $base = Find-Python
    if ($Wheelhouse) {
        $house = Open-Wheelhouse (Resolve-Path -LiteralPath $Wheelhouse).Path $work
        $Wheel = $house.Wheel
        $FindLinks = $house.Folder
        $fast = $house.Fast -and -not $NoAccelerator
        if ($house.Name -match '^scanner-wheelhouse-[^-]+-(cp\d+)-') {
            $want = $Matches[1]
            # No double quotes in a native program's arguments: Windows PowerShell drops them.
            $have = "$(& $base -I -c 'import sys; print(''cp%d%d'' % sys.version_info[:2])')".Trim()
            if ($want -ne $have) { Fail "-Wheelhouse is for $want but $base is ${have}: use that Python (-Python) or build a wheelhouse for it" }
        }
    } else {
        $Wheel = (Resolve-Path -LiteralPath $Wheel).Path
    }

    if (Test-Path -LiteralPath $Prefix) {
        if (-not (Test-ScannerVenv $Prefix)) { Fail "$Prefix exists and is not a scanner installation; choose another -Prefix or remove it" }
        $previous = "$Prefix.previous"
        if (Test-Path -LiteralPath $previous) { Remove-Item -LiteralPath $previous -Recurse -Force }
        # Fails while the task runs scanner.exe from it: wait for the audit to end, then retry.
        Rename-Item -LiteralPath $Prefix -NewName (Split-Path -Leaf $previous)
    }
    try {
        Say "creating the venv $Prefix with $base"
        Invoke-Program $base @('-m', 'venv', $Prefix)
        $venvPython = Join-Path $Prefix 'Scripts\python.exe'
        Say "installing $(Split-Path -Leaf $Wheel)"
        if ($FindLinks) {
            $links = (Resolve-Path -LiteralPath $FindLinks).Path
            # scanner[fast] when the wheelhouse has the accelerator; when pip refuses it here,
            # scanner alone: the accelerator never fails an install.
            $installed = $false
            if ($fast) {
                try {
                    Invoke-HermeticPip $venvPython $links "${Wheel}[fast]"
                    $installed = $true
                } catch {
                    Say "warning: pip could not install the accelerator from the wheelhouse ($($_.Exception.Message)): installing scanner without it"
                }
            }
            if (-not $installed) { Invoke-HermeticPip $venvPython $links $Wheel }
        } else {
            Invoke-Program $venvPython @('-I', '-m', 'pip', '--disable-pip-version-check', 'install', '--no-cache-dir', '--no-warn-script-location', '-q', $Wheel)
        }
        Invoke-Program $Scanner @('--version') | Out-Null
        if (Test-Accelerator $venvPython) {
            Say "the text scan's accelerator (google-re2) is active"
        } else {
            if ($NoAccelerator) {
                $why = '-NoAccelerator'
            } elseif (-not $Wheelhouse) {
                $why = "-Wheel installs scanner alone; $venvPython -m pip install google-re2 adds it"
            } elseif (-not $house.Fast) {
                $why = 'the wheelhouse has no wheel of it for this platform'
            } else {
                $why = 'pip could not install it here, see above'
            }
            Say "the text scan's accelerator (google-re2) is not installed (${why}): the pure-Python search gives the same findings with more CPU"
        }
    } catch {
        if (Test-Path -LiteralPath $Prefix) { Remove-Item -LiteralPath $Prefix -Recurse -Force }
        if ($previous) {
            Rename-Item -LiteralPath $previous -NewName (Split-Path -Leaf $Prefix)
            Say 'the previous installation was restored'
        }
        throw
    }
    if ($previous) { Remove-Item -LiteralPath $previous -Recurse -Force }

    if (-not (Test-Path -LiteralPath $DataDir)) { New-Item -ItemType Directory -Path $DataDir | Out-Null }
    # ProgramData lets every user create files; the token and the reports are for SYSTEM and
    # Administrators only (SIDs, so that the names' language does not matter).
    Invoke-Program 'icacls.exe' @($DataDir, '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F', '/Q') | Out-Null

    if ((Test-Path -LiteralPath $ConfigFile) -and -not $Force) {
        Say "keeping the existing $ConfigFile (-Force replaces it)"
        $problem = Test-AgentConfig
        if ($problem) { Say "warning: the existing $ConfigFile is not valid: $problem" }
    } else {
        Write-AgentConfig
        $problem = Test-AgentConfig
        if ($problem) { Fail "the written $ConfigFile is not valid: $problem" }
        Say "wrote $ConfigFile"
    }
    if ($TokenFrom) {
        Copy-Item -LiteralPath $TokenFrom -Destination $TokenFile -Force
        Say "wrote the token to $TokenFile"
    } elseif ($Collector -and -not (Test-Path -LiteralPath $TokenFile)) {
        Say "warning: put this host's token (scanner fleet token add HOST) in $TokenFile before the first run"
    }
    if ($PolicyKey -and -not (Test-Path -LiteralPath $PolicyKey -PathType Leaf)) {
        Say "warning: put the collector's policy public key (scanner policy keygen's .pub) in $PolicyKey before the first run"
    }

    if ($NoTask) {
        Say "no scheduled task (-NoTask): run $Scanner audit --config $ConfigFile yourself"
    } else {
        Register-AuditTask
    }
    Say "done: $Scanner audit --config $ConfigFile"
} finally {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
