"""The detection rules and the sensor's catalogs: data (YAML), not code, installed with the
package and read through importlib.resources."""
