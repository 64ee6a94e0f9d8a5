package jobs

import "testing"

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		job     Job
		wantErr bool
	}{
		{"ok", Job{VehicleID: "v1", Lat: 52.5, Lon: 13.4}, false},
		{"no vehicle", Job{Lat: 1, Lon: 1}, true},
		{"bad lat", Job{VehicleID: "v1", Lat: 91}, true},
		{"bad lon", Job{VehicleID: "v1", Lon: -181}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.job.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}
