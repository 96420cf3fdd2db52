package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Configuration of `start` comes from four places; the first that sets a
// flag wins:
//
//  1. the command line (--data-dir /srv/flotilla);
//  2. the environment: FLOTILLA_ and the flag's name in capitals with '-'
//     as '_' (FLOTILLA_DATA_DIR=/srv/flotilla); a variable set to the
//     empty string counts as unset, as most tools treat it;
//  3. the config file named by --config (or FLOTILLA_CONFIG), whose keys
//     are the flag names (data-dir = "/srv/flotilla");
//  4. the flag's default.
//
// The file is TOML: flat `name = value` lines mirror the flags one to one,
// it allows comments (an operator's file explains itself), its strings,
// integers and booleans are typed, and github.com/BurntSushi/toml, the
// usual Go parser, is small, has no dependencies and reports the line of
// a syntax error. JSON has no comments; YAML's implicit typing turns
// values such as `no` or `0700` into surprises. A hand-written mapping
// onto the cobra flags (rather than spf13/viper, which pulls in a dozen
// modules to do the same) keeps one source of truth: every flag, its
// type check and its help stay cobra's.
const (
	configFlag = "config"
	envPrefix  = "FLOTILLA_"
)

// envName is the environment variable that overrides flag name.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// registerConfig adds --config to cmd and makes cmd read its
// configuration as described above before it runs (and before cobra
// checks required flags, so a required flag may come from the file or
// the environment).
func registerConfig(cmd *cobra.Command) {
	cmd.Flags().String(configFlag, "", "read flag values from this TOML file (keys are flag names, e.g. data-dir = \"/srv/flotilla\"); "+
		envPrefix+"<FLAG> environment variables (e.g. "+envName("data-dir")+") override it, and flags override both")
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error { return applyConfig(cmd.Flags()) }
}

// applyConfig sets every flag of fl not given on the command line from
// the environment, or else from the config file.
func applyConfig(fl *pflag.FlagSet) error {
	path, _ := fl.GetString(configFlag)
	if !fl.Changed(configFlag) {
		path = os.Getenv(envName(configFlag))
	}
	var file map[string]string
	if path != "" {
		var err error
		if file, err = readConfig(path, fl); err != nil {
			return err
		}
	}
	var errs []error
	fl.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == configFlag || f.Name == "help" {
			return
		}
		if v := os.Getenv(envName(f.Name)); v != "" {
			if err := fl.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("environment %s=%q: %w", envName(f.Name), v, err))
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			if err := fl.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: key %q: %w", path, f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// readConfig reads a TOML config file into flag name -> value as the
// command line would spell it. Every key must name a flag of fl.
func readConfig(path string, fl *pflag.FlagSet) (map[string]string, error) {
	var raw map[string]any
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	out := make(map[string]string, len(raw))
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(raw)) {
		if key == configFlag || key == "help" || fl.Lookup(key) == nil {
			errs = append(errs, fmt.Errorf("config file %s: unknown key %q (the keys are the command's flag names, such as data-dir)", path, key))
			continue
		}
		v, err := configValue(raw[key])
		if err != nil {
			errs = append(errs, fmt.Errorf("config file %s: key %q: %w", path, key, err))
			continue
		}
		out[key] = v
	}
	return out, errors.Join(errs...)
}

// configValue spells a TOML value as a flag value; an array becomes a
// comma-separated list (peers = ["1=a:7001", "2=b:7001"]).
func configValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			s, err := configValue(e)
			if err != nil {
				return "", err
			}
			if _, nested := e.([]any); nested {
				return "", errors.New("nested arrays are not flag values")
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		return "", errors.New("tables are not flag values: write the flags' keys at the top level")
	}
	return "", fmt.Errorf("%T values are not flag values: write a string, number or boolean", v)
}
